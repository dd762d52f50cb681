import type { KeyObject } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { AppError, ErrorCodes } from '../api/errors.js';
import type { Logger } from '../log/log.js';
import { parseSigningPublicKey, type BundleRejectReason } from '../wire/bundle-signature.js';

/** A bundle a node refuses to evaluate, and why (the `reason` label of tributary_bundle_rejected_total). */
export class BundleRejected extends AppError {
  constructor(readonly reason: BundleRejectReason, message: string, options?: { cause?: unknown }) {
    super(ErrorCodes.BUNDLE_SIGNATURE_INVALID, message, options);
  }
}

/** Where a node keeps the master's signing key (written by enrolment, or here on first use). */
export function masterKeyPath(dataDir: string): string {
  return join(dataDir, 'identity', 'master-signing.pub');
}

/**
 * The master's Ed25519 public key as a node knows it, for verifying bundle signatures
 * (bundle-cache.ts). NodeAgent asks for it before each bundle; it is read once:
 *   1. `keyFile` (config `masterKey`, flag `--master-key`): that PEM file, nothing else;
 *   2. `<data>/identity/master-signing.pub`: written by enrolment (helper "identity");
 *   3. neither: fetched once from the master (`GET /signing-key` next to the bundle URL), stored
 *      as 2., and a warning logged: trust on first use. A node never enrolled and never given a
 *      key thus still runs applications, and from then on only ones signed by that same master.
 */
export class MasterSigningKey {
  private loading: Promise<KeyObject> | null = null;

  constructor(private readonly o: { keyFile?: string; dataDir: string; log: Logger }) {}

  /** The key; `bundleUrl` tells where the master is, for trust on first use. Throws BundleRejected('no-key'). */
  get(bundleUrl: string): Promise<KeyObject> {
    this.loading ??= this.load(bundleUrl).catch((err: Error) => {
      this.loading = null; // a master unreachable now may answer next time
      throw err instanceof BundleRejected ? err : new BundleRejected('no-key', `no master signing key: ${err.message}`, { cause: err });
    });
    return this.loading;
  }

  private async load(bundleUrl: string): Promise<KeyObject> {
    if (this.o.keyFile) return parseSigningPublicKey(await readFile(this.o.keyFile));
    const path = masterKeyPath(this.o.dataDir);
    const stored = await readFile(path).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return null;
      throw err;
    });
    if (stored) return parseSigningPublicKey(stored);
    // Next to the bundle downloads: `<publicUrl>/bundles/<sha>` -> `<publicUrl>/signing-key` (a path prefix kept).
    const url = /\/bundles\/[0-9a-f]{64}$/.test(bundleUrl) ? bundleUrl.replace(/\/bundles\/[0-9a-f]{64}$/, '/signing-key') : new URL('/signing-key', bundleUrl).toString();
    const res = await fetch(url);
    if (!res.ok) throw new Error(`GET ${url}: HTTP ${res.status}`);
    const pem = await res.text();
    const key = parseSigningPublicKey(pem);
    await mkdir(dirname(path), { recursive: true });
    const tmp = `${path}.${process.pid}.tmp`;
    await writeFile(tmp, pem);
    await rename(tmp, path);
    this.o.log.warn({ event: 'master-key-trusted-on-first-use', url, path },
      'no master signing key configured (masterKey, or enrolment): trusted the key the master served on first use; give nodes the key (--master-key, or enrol them) to close that window');
    return key;
  }
}
