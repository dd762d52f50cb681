import { createPrivateKey, sign, webcrypto } from 'node:crypto';
import { ErrorCodes, TributaryError } from '../api/errors.js';
import type { Logger } from '../log/log.js';
import { writeIdentity, type BrokerUrls, type NodeIdentity, type NodeRole } from './identity-store.js';
import { createCsr, generateKeyPair, privateKeyPem, x509 } from './x509.js';

/**
 * The node's side of enrolment (security-spec.md, "Enrolment flow"): it makes its own key pair,
 * sends a certificate request to the master's REST API with its one-time token, and keeps what it
 * gets back under `<data>/identity/`. Called by `resolveNodeConnection` (first start) and by the
 * `IdentityRenewer` (renewal before the certificate expires). The private key never leaves the node.
 */

/** `POST /enrol` and `POST /enrol/renew` answer with this (fields of renewals may be omitted: kept). */
interface EnrolReply {
  cert: string;
  ca?: string;
  secret?: string;
  signingKey?: string;
  brokers?: BrokerUrls;
  role?: string;
  certNotAfter?: string | number;
}

const HTTP_TIMEOUT_MS = 30_000;

export interface EnrolOptions {
  /** The master's REST API, e.g. http://127.0.0.1:8080. */
  masterUrl: string;
  id: string;
  /** The one-time enrolment token (`tributary devices add <id>`). */
  token: string;
  /** What this node is: recorded if the master does not say. */
  role: NodeRole;
  dataDir: string;
  log?: Logger;
}

/** First enrolment: key pair, CSR, `POST /enrol`; the identity is written atomically and returned. */
export async function enrol(o: EnrolOptions): Promise<NodeIdentity> {
  const keys = await generateKeyPair();
  const csr = await createCsr(o.id, keys);
  const reply = await post(o.masterUrl, '/enrol', { id: o.id, token: o.token, csr }, `enrolment of ${o.id}`);
  const cert = await checkedCert(reply, keys, o.id, o.masterUrl);
  if (typeof reply.ca !== 'string' || typeof reply.secret !== 'string') throw unusable(o.masterUrl, 'enrolment', 'no ca or secret');
  const identity = await writeIdentity(o.dataDir, {
    key: await privateKeyPem(keys), cert, ca: reply.ca, secret: reply.secret, masterSigningKey: reply.signingKey ?? '',
    enrolment: { id: o.id, role: reply.role ?? o.role, brokers: reply.brokers ?? {}, masterUrl: trimSlash(o.masterUrl), certNotAfter: '' /* set by writeIdentity from the certificate */ },
  });
  o.log?.info({ event: 'enrolled', id: o.id, master: o.masterUrl, certNotAfter: new Date(identity.certNotAfter).toISOString(), dir: identity.dir }, 'enrolled: identity stored');
  return identity;
}

/**
 * Renewal: a new key pair and CSR, proven with the CURRENT key (ECDSA/SHA-256 signature over the
 * CSR's PEM text, base64, plus the current certificate), `POST /enrol/renew`. The new identity
 * replaces the old one atomically; the old one stays if anything fails.
 */
export async function renew(current: NodeIdentity, dataDir: string, log?: Logger): Promise<NodeIdentity> {
  const keys = await generateKeyPair();
  const csr = await createCsr(current.id, keys);
  const proof = sign('sha256', Buffer.from(csr), createPrivateKey(current.key)).toString('base64');
  const masterUrl = current.enrolment.masterUrl;
  const reply = await post(masterUrl, '/enrol/renew', { id: current.id, csr, proof, cert: current.cert }, `renewal of ${current.id}`);
  const cert = await checkedCert(reply, keys, current.id, masterUrl);
  const identity = await writeIdentity(dataDir, {
    key: await privateKeyPem(keys), cert, ca: reply.ca ?? current.ca, secret: reply.secret ?? current.secret,
    masterSigningKey: reply.signingKey ?? current.masterSigningKey,
    enrolment: { ...current.enrolment, brokers: reply.brokers ?? current.enrolment.brokers, certNotAfter: '' /* set by writeIdentity from the certificate */ },
  });
  log?.info({ event: 'certificate-renewed', id: current.id, certNotAfter: new Date(identity.certNotAfter).toISOString() }, 'certificate renewed');
  return identity;
}

/** The reply's certificate, checked: a certificate, for `id`, of the key this node just made. */
async function checkedCert(reply: EnrolReply, keys: CryptoKeyPair, id: string, masterUrl: string): Promise<string> {
  if (typeof reply?.cert !== 'string') throw unusable(masterUrl, 'enrolment', 'no certificate');
  let cert: x509.X509Certificate;
  try {
    cert = new x509.X509Certificate(reply.cert);
  } catch (cause) {
    throw unusable(masterUrl, 'enrolment', `the certificate does not parse: ${(cause as Error).message}`);
  }
  const ours = Buffer.from(await webcrypto.subtle.exportKey('spki', keys.publicKey as webcrypto.CryptoKey));
  if (!Buffer.from(cert.publicKey.rawData).equals(ours)) throw unusable(masterUrl, 'enrolment', 'the certificate is not for the key this node sent');
  if (!cert.subject.split(/,\s*/).includes(`CN=${id}`)) throw unusable(masterUrl, 'enrolment', `the certificate is for ${cert.subject}, not CN=${id}`);
  return reply.cert;
}

async function post(masterUrl: string, path: string, body: unknown, what: string): Promise<EnrolReply> {
  const url = new URL(path, `${trimSlash(masterUrl)}/`).toString();
  let res: Response;
  try {
    res = await fetch(url, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), signal: AbortSignal.timeout(HTTP_TIMEOUT_MS),
    });
  } catch (cause) {
    const reason = (cause as { cause?: Error }).cause?.message ?? (cause as Error).message;
    throw new TributaryError(ErrorCodes.ENROLMENT_FAILED, `${what}: the master is not reachable at ${url}: ${reason}`, { cause });
  }
  const text = await res.text();
  let json: unknown = null;
  try {
    json = JSON.parse(text);
  } catch {
    // Reported below with the status.
  }
  if (res.status >= 400 && res.status < 500) {
    const m = json as { message?: unknown; error?: unknown } | null;
    const reason = typeof m?.message === 'string' ? m.message : typeof m?.error === 'string' ? m.error : text.slice(0, 200);
    throw new TributaryError(ErrorCodes.ENROLMENT_REFUSED, `${what}: the master refused it (HTTP ${res.status}): ${reason}`);
  }
  if (!res.ok || json === null || typeof json !== 'object') {
    throw new TributaryError(ErrorCodes.ENROLMENT_FAILED, `${what}: unusable answer from ${url} (HTTP ${res.status}): ${text.slice(0, 200)}`);
  }
  return json as EnrolReply;
}

const unusable = (masterUrl: string, what: string, reason: string) =>
  new TributaryError(ErrorCodes.ENROLMENT_FAILED, `${what}: unusable answer from ${masterUrl}: ${reason}`);

const trimSlash = (u: string) => u.replace(/\/+$/, '');
