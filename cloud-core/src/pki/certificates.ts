import { X509Certificate as NodeX509Certificate, createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, webcrypto } from 'node:crypto';
import { ErrorCodes, TributaryError } from '@tributary/shared';
import { x509 } from './x509.js';

/**
 * Certificate primitives of the fabric's CA (ECDSA P-256, SHA-256): keys, serial numbers, the
 * subject that carries a node's identity, issuing, and reading an identity back. Used by
 * pki-store.ts (the master's own files) and by the device registry (client certificates from
 * PKCS#10 requests at enrolment and renewal); `principalOf` by the broker's authenticator.
 */

/** Who a certificate names. The role travels in the subject as `OU=<role>`. */
export type CertRole = 'master' | 'worker' | 'agent' | 'client';
export const CERT_ROLES: readonly CertRole[] = ['master', 'worker', 'agent', 'client'];
export interface CertPrincipal { id: string; role: CertRole }

/** Organisation written into every subject the CA issues. */
export const CERT_ORGANISATION = 'Tributary';

const EC_KEY = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const EC_SIGN = { name: 'ECDSA', hash: 'SHA-256' } as const;

/** A refused certificate or certificate request (bad signature, wrong name, wrong key type). */
export class CertError extends TributaryError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCodes.CERT_INVALID, message, options);
  }
}

/** A new ECDSA P-256 private key, PKCS#8 PEM. */
export function newEcKeyPem(): string {
  return generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
}

/** The WebCrypto pair of a PKCS#8 PEM ECDSA key, for @peculiar/x509's generators. */
export async function cryptoKeysOf(keyPem: string): Promise<CryptoKeyPair> {
  const priv = createPrivateKey(keyPem);
  const privateKey = await webcrypto.subtle.importKey('pkcs8', priv.export({ type: 'pkcs8', format: 'der' }), EC_KEY, true, ['sign']);
  const publicKey = await webcrypto.subtle.importKey('spki', createPublicKey(priv).export({ type: 'spki', format: 'der' }), EC_KEY, true, ['verify']);
  return { privateKey, publicKey } as CryptoKeyPair;
}

/**
 * A random positive 127-bit serial number, hex (RFC 5280: unique per CA, at most 20 bytes; random
 * so that no counter needs to survive restarts or be shared). The first byte is never 0, so the
 * hex form is the DER form and compares equal to what `X509Certificate.serialNumber` reports.
 */
export function newSerial(): string {
  const b = randomBytes(16);
  b[0] = (b[0] & 0x7f) | 0x10;
  return b.toString('hex').toUpperCase();
}

/** Subject of a node's certificate. Ids are validated before (letters, digits, `_ . -`). */
export function subjectOf(p: CertPrincipal): string {
  return `CN=${p.id}, OU=${p.role}, O=${CERT_ORGANISATION}`;
}

/** The self-signed CA certificate (10 years). */
export async function createCaCertificate(keyPem: string, now = new Date()): Promise<string> {
  const keys = await cryptoKeysOf(keyPem);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: newSerial(), name: `CN=Tributary CA, O=${CERT_ORGANISATION}`, notBefore: backdated(now), notAfter: addDays(now, 3650),
    keys, signingAlgorithm: EC_SIGN,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return pemText(cert);
}

export interface IssueParams {
  caKeyPem: string;
  caCertPem: string;
  subject: string;
  /** The subject's public key: a CryptoKey, or the key of a verified PKCS#10 request. */
  publicKey: CryptoKey | x509.PublicKey;
  /** `client` (TLS client auth: nodes, the master's own identity) or `server` (the broker). */
  usage: 'client' | 'server';
  /** Subject alternative names of a server certificate: DNS names and IP addresses. */
  names?: readonly string[];
  notBefore: Date;
  notAfter: Date;
}

/** Issues a certificate signed by the CA; returns it as PEM with its serial and validity. */
export async function issueCertificate(p: IssueParams): Promise<{ pem: string; serial: string; notAfter: Date }> {
  const caKeys = await cryptoKeysOf(p.caKeyPem);
  const ca = new x509.X509Certificate(p.caCertPem);
  const publicKey = p.publicKey instanceof x509.PublicKey ? await p.publicKey.export() : p.publicKey;
  const serial = newSerial();
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyAgreement, true),
    new x509.ExtendedKeyUsageExtension([p.usage === 'server' ? x509.ExtendedKeyUsage.serverAuth : x509.ExtendedKeyUsage.clientAuth]),
    await x509.SubjectKeyIdentifierExtension.create(publicKey),
    await x509.AuthorityKeyIdentifierExtension.create(caKeys.publicKey),
  ];
  if (p.names && p.names.length > 0) {
    extensions.push(new x509.SubjectAlternativeNameExtension(p.names.map((n) => ({ type: isIp(n) ? 'ip' as const : 'dns' as const, value: n }))));
  }
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial, subject: p.subject, issuer: ca.subject, notBefore: p.notBefore, notAfter: p.notAfter,
    publicKey, signingKey: caKeys.privateKey, signingAlgorithm: EC_SIGN, extensions,
  });
  return { pem: pemText(cert), serial, notAfter: cert.notAfter };
}

/**
 * Parses and checks a PKCS#10 request (PEM) from a device: its self-signature verifies, its
 * subject's CN is exactly `id`, its key is ECDSA P-256. Returns the public key to certify.
 * Throws CertError otherwise.
 */
export async function verifyCsr(csrPem: string, id: string): Promise<x509.PublicKey> {
  let csr: x509.Pkcs10CertificateRequest;
  try {
    csr = new x509.Pkcs10CertificateRequest(csrPem);
  } catch (cause) {
    throw new CertError('the certificate request is not a PEM PKCS#10 request', { cause });
  }
  const cn = csr.subjectName.getField('CN');
  if (cn.length !== 1 || cn[0] !== id) throw new CertError(`the certificate request names CN=${cn.join(',') || '(none)'}, expected CN=${id}`);
  const alg = csr.publicKey.algorithm as EcKeyAlgorithm;
  if (alg.name !== 'ECDSA' || alg.namedCurve !== 'P-256') throw new CertError(`the certificate request's key is ${alg.name} ${alg.namedCurve ?? ''}, expected ECDSA P-256`);
  let ok = false;
  try {
    ok = await csr.verify();
  } catch (cause) {
    throw new CertError('the certificate request\'s signature cannot be checked', { cause });
  }
  if (!ok) throw new CertError('the certificate request\'s signature does not verify');
  return csr.publicKey;
}

/**
 * The identity a certificate issued by this CA carries: CN = id, OU = role; null when the subject
 * is not of that shape (one CN, one OU naming a known role). Does NOT check the chain: callers do
 * (the broker's TLS handshake, `Pki.verifyIssued`).
 */
export function principalOf(cert: NodeX509Certificate): CertPrincipal | null {
  const fields = cert.subject.split('\n').map((l) => {
    const eq = l.indexOf('=');
    return eq < 0 ? ['', l] : [l.slice(0, eq), l.slice(eq + 1)];
  });
  const cn = fields.filter(([k]) => k === 'CN').map(([, v]) => v);
  const ou = fields.filter(([k]) => k === 'OU').map(([, v]) => v);
  if (cn.length !== 1 || ou.length !== 1 || !CERT_ROLES.includes(ou[0] as CertRole)) return null;
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(cn[0])) return null;
  return { id: cn[0], role: ou[0] as CertRole };
}

/** PEM with a final newline, as files and other tools write it. */
function pemText(cert: x509.X509Certificate): string {
  return `${cert.toString('pem').trimEnd()}\n`;
}

function isIp(name: string): boolean {
  return /^\d{1,3}(\.\d{1,3}){3}$/.test(name) || name.includes(':');
}

export function addDays(at: Date, days: number): Date {
  return new Date(at.getTime() + days * 86_400_000);
}

/** One hour back: a device whose clock is a little behind still accepts a fresh certificate. */
export function backdated(at: Date): Date {
  return new Date(at.getTime() - 3_600_000);
}
