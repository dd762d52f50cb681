import { createPrivateKey, sign, webcrypto } from 'node:crypto';
import { x509 } from '../../cloud-core/src/pki/x509.js';

/**
 * The device side of enrolment, as a test needs it: a fresh ECDSA P-256 key and a PKCS#10 request
 * naming `cn`, both PEM; and the renewal proof (signature by the current key over the CSR text).
 * The real client is the node's (helper "identity"); the wire format is /work/security-spec.md's.
 */
export async function newCsr(cn: string): Promise<{ keyPem: string; csrPem: string }> {
  const keys = await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']);
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({ name: `CN=${cn}`, keys, signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' } });
  const der = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
  const keyPem = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' }).export({ type: 'pkcs8', format: 'pem' }).toString();
  return { keyPem, csrPem: csr.toString('pem') };
}

/** Renewal proof: base64 ECDSA-SHA256 (DER) signature by `keyPem` over the CSR PEM text. */
export function renewalProof(keyPem: string, csrPem: string): string {
  return sign('sha256', Buffer.from(csrPem, 'utf8'), keyPem).toString('base64');
}
