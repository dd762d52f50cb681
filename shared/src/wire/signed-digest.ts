import { createPublicKey, sign, verify, type KeyObject } from 'node:crypto';

/**
 * The master's Ed25519 signatures over a digest behind a domain prefix: what it signs for bundles
 * (bundle-signature.ts), agent binaries and remote configurations (agent-signature.ts) — each kind
 * its own payload function, one way to sign and to check them.
 */

/** The master's signature (base64) over `payload`; `key` is its Ed25519 private key. */
export function signPayload(key: KeyObject, payload: Buffer): string {
  return sign(null, payload, key).toString('base64');
}

/**
 * Whether `signature` (base64) is the master's over `payload`, with its public key (a KeyObject or
 * PEM). Never throws: a malformed key or signature is a signature that does not verify.
 */
export function verifyPayload(publicKey: KeyObject | string, payload: Buffer, signature: string): boolean {
  try {
    const key = typeof publicKey === 'string' ? createPublicKey(publicKey) : publicKey;
    const sig = Buffer.from(signature, 'base64');
    return sig.length === 64 && verify(null, payload, key, sig);
  } catch {
    return false;
  }
}
