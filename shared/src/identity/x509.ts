import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

/**
 * The one place that loads @peculiar/x509: it needs reflect-metadata first and a WebCrypto
 * provider (Node's). Every module of this layer that builds or reads certificates imports `x509`
 * from here, never from the package, so the set-up cannot be forgotten.
 */
x509.cryptoProvider.set(webcrypto as unknown as Crypto);

export { x509 };

/** ECDSA P-256 with SHA-256: the only algorithm of the fabric's identities (security-spec.md). */
export const EC_KEY_ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256' } as const;
export const EC_SIGNING_ALGORITHM = { name: 'ECDSA', hash: 'SHA-256' } as const;

/** A fresh, extractable P-256 key pair (WebCrypto), for a certificate request. */
export async function generateKeyPair(): Promise<CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(EC_KEY_ALGORITHM, true, ['sign', 'verify'])) as unknown as CryptoKeyPair;
}

/** The private key as PKCS#8 PEM (what key.pem holds; node:tls and node:crypto read it). */
export async function privateKeyPem(keys: CryptoKeyPair): Promise<string> {
  const der = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey as webcrypto.CryptoKey);
  return x509.PemConverter.encode(der, 'PRIVATE KEY');
}

/** A PKCS#10 certificate request (PEM) for `id`: subject CN=<id>, signed with the pair's key. */
export async function createCsr(id: string, keys: CryptoKeyPair): Promise<string> {
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({ name: [{ CN: [id] }], keys, signingAlgorithm: EC_SIGNING_ALGORITHM });
  return csr.toString('pem');
}

/** Validity and subject of a PEM certificate; throws on anything that is not one. */
export function certificateInfo(pem: string): { subject: string; notBefore: number; notAfter: number } {
  const cert = new x509.X509Certificate(pem);
  return { subject: cert.subject, notBefore: cert.notBefore.getTime(), notAfter: cert.notAfter.getTime() };
}
