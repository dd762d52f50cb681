import { createHash, type KeyObject } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { BundleRef } from '../wire/assignment.js';
import { AppError, ErrorCodes } from '../api/errors.js';
import { checkBundleSignature } from '../wire/bundle-signature.js';
import { BundleRejected } from './master-key.js';

/**
 * Application bundles on a node's disk, by sha256. A bundle is downloaded from the master once and
 * reused. Before a path is handed out (and so before anything evaluates the bundle), every time:
 * the master's signature over the digest must verify with the master's key, and the bytes must
 * have that digest. A substituted download, a forged desired state pointing at other bytes, or a
 * bundle the master never signed is refused with BundleRejected (NodeAgent counts and reports it).
 */
export class BundleCache {
  constructor(private readonly dir: string) {}

  async get(ref: BundleRef, masterKey: KeyObject): Promise<string> {
    if (!/^[0-9a-f]{64}$/.test(ref.sha256)) throw new AppError(ErrorCodes.APP_INVALID, `bad bundle hash ${ref.sha256}`);
    // Checked before the download: an unsigned or forged reference costs no transfer.
    const bad = checkBundleSignature(masterKey, ref.sha256, ref.signature);
    if (bad === 'unsigned') throw new BundleRejected(bad, `bundle ${ref.sha256} carries no signature`);
    if (bad) throw new BundleRejected(bad, `bundle ${ref.sha256}: the signature does not verify with the master's signing key`);
    const path = join(this.dir, `${ref.sha256}.mjs`);
    const cached = await readFile(path).catch(() => null);
    if (cached && sha256(cached) === ref.sha256) return path;
    const bytes = await download(ref.url);
    const actual = sha256(bytes);
    if (actual !== ref.sha256) throw new BundleRejected('sha256', `bundle from ${ref.url} has sha256 ${actual}, expected ${ref.sha256}`);
    await mkdir(this.dir, { recursive: true });
    const tmp = `${path}.${process.pid}.tmp`;
    await writeFile(tmp, bytes);
    await rename(tmp, path);
    return path;
  }
}

export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

async function download(url: string): Promise<Uint8Array> {
  let res: Response;
  try {
    res = await fetch(url);
  } catch (cause) {
    throw new AppError(ErrorCodes.APP_INVALID, `cannot download bundle ${url}: ${(cause as Error).message}`, { cause });
  }
  if (!res.ok) throw new AppError(ErrorCodes.APP_INVALID, `cannot download bundle ${url}: HTTP ${res.status}`);
  return new Uint8Array(await res.arrayBuffer());
}
