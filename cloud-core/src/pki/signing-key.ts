import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** The master's Ed25519 signing key: bundle (and, later, artefact) signatures. */
export interface SigningKey {
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  /** SPKI PEM of the public key: what `GET /signing-key` serves and nodes keep as master-signing.pub. */
  readonly publicKeyPem: string;
}

/**
 * Loads `<dir>/signing.key` (PKCS#8 PEM, 0600) and `<dir>/signing.pub` (SPKI PEM), creating the
 * pair on first use (`dir` is `<master data>/pki`, see the security design). Called by the master
 * at start; helper "pki" (`tributary certs init`) creates the same files in the same formats. The
 * public key is always derived from the private one, so a stale or edited signing.pub is rewritten.
 */
export async function loadOrCreateSigningKey(dir: string): Promise<SigningKey> {
  const keyPath = join(dir, 'signing.key');
  const pubPath = join(dir, 'signing.pub');
  const existing = await readFile(keyPath, 'utf8').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return null;
    throw err;
  });
  let privateKey: KeyObject;
  if (existing === null) {
    privateKey = generateKeyPairSync('ed25519').privateKey;
    await mkdir(dir, { recursive: true });
    await writeAtomically(keyPath, privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, 0o600);
  } else {
    privateKey = createPrivateKey(existing);
    if (privateKey.asymmetricKeyType !== 'ed25519') throw new Error(`${keyPath}: expected an Ed25519 private key, got ${privateKey.asymmetricKeyType}`);
  }
  const publicKey = createPublicKey(privateKey);
  const publicKeyPem = publicKey.export({ type: 'spki', format: 'pem' }) as string;
  if ((await readFile(pubPath, 'utf8').catch(() => null)) !== publicKeyPem) await writeAtomically(pubPath, publicKeyPem, 0o644);
  return { privateKey, publicKey, publicKeyPem };
}

async function writeAtomically(path: string, text: string, mode: number): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, text, { mode });
  await chmod(tmp, mode);
  await rename(tmp, path);
}
