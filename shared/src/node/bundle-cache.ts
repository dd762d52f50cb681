import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { BundleRef } from '../wire/assignment.js';
import { AppError, ErrorCodes } from '../api/errors.js';

/**
 * Application bundles on a node's disk, by sha256. A bundle is downloaded from the master once,
 * verified against its hash (so a corrupted or substituted download never runs), and reused.
 */
export class BundleCache {
  constructor(private readonly dir: string) {}

  async get(ref: BundleRef): Promise<string> {
    if (!/^[0-9a-f]{64}$/.test(ref.sha256)) throw new AppError(ErrorCodes.APP_INVALID, `bad bundle hash ${ref.sha256}`);
    const path = join(this.dir, `${ref.sha256}.mjs`);
    const cached = await readFile(path).catch(() => null);
    if (cached && sha256(cached) === ref.sha256) return path;
    const bytes = await download(ref.url);
    const actual = sha256(bytes);
    if (actual !== ref.sha256) throw new AppError(ErrorCodes.APP_INVALID, `bundle from ${ref.url} has sha256 ${actual}, expected ${ref.sha256}`);
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
