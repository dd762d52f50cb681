import { createPublicKey, type KeyObject } from 'node:crypto';
import { signPayload, verifyPayload } from './signed-digest.js';

/**
 * Signatures of application bundles (issue 13, "Signed bundles"). The master signs the sha256 of
 * every bundle it stores with its Ed25519 key (`<master data>/pki/signing.key`); the desired state
 * carries the signature next to the hash, and a node verifies both (bundle-cache.ts) before it
 * evaluates a single byte. What is signed is the hex digest behind a domain-separation prefix, so
 * a signature over a bundle can never be replayed as a signature over anything else the master
 * signs with the same key (agent binaries, rollouts: their own prefixes).
 */
export const BUNDLE_SIGNATURE_DOMAIN = 'tributary-bundle-v1\0';

/** The bytes the master signs for a bundle whose sha256 (hex, lower case) is `sha256`. */
export function bundleSigningPayload(sha256: string): Buffer {
  return Buffer.from(`${BUNDLE_SIGNATURE_DOMAIN}${sha256}`, 'utf8');
}

/** The master's signature (base64) over a bundle's digest; `key` is its Ed25519 private key. */
export function signBundleDigest(key: KeyObject, sha256: string): string {
  return signPayload(key, bundleSigningPayload(sha256));
}

/** Why a signature was refused (the `reason` label of `tributary_bundle_rejected_total`). */
export type BundleRejectReason = 'unsigned' | 'signature' | 'sha256' | 'no-key';

/**
 * Checks the master's signature over a bundle's digest with its public key: null when it holds,
 * otherwise the reason. Never throws (a malformed signature is just an invalid one).
 */
export function checkBundleSignature(publicKey: KeyObject, sha256: string, signature: string | undefined): BundleRejectReason | null {
  if (signature === undefined || signature.length === 0) return 'unsigned';
  return verifyPayload(publicKey, bundleSigningPayload(sha256), signature) ? null : 'signature';
}

/** An Ed25519 public key from PEM (SPKI); throws a TypeError for anything else. */
export function parseSigningPublicKey(pem: string | Buffer): KeyObject {
  const key = createPublicKey(pem);
  if (key.asymmetricKeyType !== 'ed25519') throw new TypeError(`expected an Ed25519 public key, got ${key.asymmetricKeyType ?? 'unknown'}`);
  return key;
}
