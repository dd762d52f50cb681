import { existsSync } from 'node:fs';
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { ErrorCodes, TributaryError } from '../api/errors.js';
import { certificateInfo } from './x509.js';

/** The roles a node enrols with (security-spec.md, "Identities"). */
export type NodeRole = 'agent' | 'worker';

/** Where the master's broker listens, as enrolment told the node. */
export interface BrokerUrls {
  tls?: string;
  plain?: string;
}

/** enrolment.json: what the node learnt when it enrolled (or last renewed). */
export interface EnrolmentRecord {
  id: string;
  role: string;
  brokers: BrokerUrls;
  /** The master's REST API: where renewals go. */
  masterUrl: string;
  /** ISO time after which the certificate is invalid. */
  certNotAfter: string;
}

/** Everything a node keeps under `<data>/identity/` (security-spec.md, "Node data layout"). */
export interface IdentityFiles {
  /** PKCS#8 PEM private key (key.pem, 0600). */
  key: string;
  /** The node's client certificate (cert.pem), CN = id. */
  cert: string;
  /** The fabric's CA certificate (ca.pem): the broker's certificate must chain to it. */
  ca: string;
  /** Per-device secret: MQTT password where client certificates cannot be used (secret, 0600). */
  secret: string;
  /** The master's Ed25519 public key (PEM) that signs bundles (master-signing.pub); may be empty. */
  masterSigningKey: string;
  enrolment: EnrolmentRecord;
}

/** A loaded identity, with the certificate's validity read from the certificate itself. */
export interface NodeIdentity extends IdentityFiles {
  dir: string;
  id: string;
  certNotBefore: number;
  certNotAfter: number;
}

const FILES: { name: string; mode: number; of: (f: IdentityFiles) => string }[] = [
  { name: 'key.pem', mode: 0o600, of: (f) => f.key },
  { name: 'cert.pem', mode: 0o644, of: (f) => f.cert },
  { name: 'ca.pem', mode: 0o644, of: (f) => f.ca },
  { name: 'secret', mode: 0o600, of: (f) => f.secret },
  { name: 'master-signing.pub', mode: 0o644, of: (f) => f.masterSigningKey },
  // Last: a directory with enrolment.json in it was written completely.
  { name: 'enrolment.json', mode: 0o644, of: (f) => `${JSON.stringify(f.enrolment, null, 2)}\n` },
];

/** `<data>/identity`: the node's identity directory. */
export const identityDir = (dataDir: string): string => join(dataDir, 'identity');

const invalid = (message: string, cause?: unknown) => new TributaryError(ErrorCodes.IDENTITY_INVALID, message, { cause });

/**
 * Writes a whole identity at once (enrolment, renewal): every file into `identity.new/`, flushed
 * to disk, then the directory swapped in by two renames. A crash at any point leaves either the
 * old identity or the new one, never a key of one with the certificate of the other; `loadIdentity`
 * finishes or discards a swap it finds half done.
 */
export async function writeIdentity(dataDir: string, given: IdentityFiles): Promise<NodeIdentity> {
  const dir = identityDir(dataDir);
  // Checked before anything is written; certNotAfter is the certificate's own.
  const checked = parse(dir, given);
  const files: IdentityFiles = { ...given, enrolment: { ...given.enrolment, certNotAfter: new Date(checked.certNotAfter).toISOString() } };
  const fresh = `${dir}.new`;
  const old = `${dir}.old`;
  await mkdir(dirname(dir), { recursive: true });
  await rm(fresh, { recursive: true, force: true });
  await mkdir(fresh, { mode: 0o700 });
  for (const f of FILES) {
    const handle = await open(join(fresh, f.name), 'wx', f.mode);
    try {
      await handle.writeFile(f.of(files));
      await handle.sync();
    } finally {
      await handle.close();
    }
  }
  await rm(old, { recursive: true, force: true });
  if (existsSync(dir)) await rename(dir, old);
  await rename(fresh, dir);
  await rm(old, { recursive: true, force: true });
  return { ...checked, ...files };
}

/**
 * The identity under `<data>/identity/`, or null when the node has none yet. Throws
 * TRIB_ERR_IDENTITY_INVALID when files are missing or do not parse (never half an identity).
 */
export async function loadIdentity(dataDir: string): Promise<NodeIdentity | null> {
  const dir = identityDir(dataDir);
  await recoverSwap(dir);
  // No enrolment yet. The directory may still exist: a node with no enrolment keeps the master's
  // signing key it trusted on first use there (node/master-key.ts), which is not an identity.
  if (!existsSync(join(dir, 'enrolment.json')) && !existsSync(join(dir, 'key.pem'))) return null;
  const read = async (name: string) => {
    try {
      return await readFile(join(dir, name), 'utf8');
    } catch (cause) {
      throw invalid(`identity in ${dir} is incomplete: cannot read ${name}: ${(cause as Error).message}`, cause);
    }
  };
  let enrolment: EnrolmentRecord;
  try {
    enrolment = JSON.parse(await read('enrolment.json')) as EnrolmentRecord;
  } catch (cause) {
    if ((cause as TributaryError).code === ErrorCodes.IDENTITY_INVALID) throw cause;
    throw invalid(`identity in ${dir}: enrolment.json is not JSON`, cause);
  }
  const [key, cert, ca, secret, masterSigningKey] = await Promise.all(['key.pem', 'cert.pem', 'ca.pem', 'secret', 'master-signing.pub'].map(read));
  return parse(dir, { key, cert, ca, secret: secret.trim(), masterSigningKey, enrolment });
}

function parse(dir: string, files: IdentityFiles): NodeIdentity {
  const e = files.enrolment;
  if (typeof e?.id !== 'string' || typeof e.masterUrl !== 'string' || typeof e.brokers !== 'object' || e.brokers === null) {
    throw invalid(`identity in ${dir}: enrolment.json lacks id, masterUrl or brokers`);
  }
  let info: ReturnType<typeof certificateInfo>;
  try {
    info = certificateInfo(files.cert);
  } catch (cause) {
    throw invalid(`identity in ${dir}: cert.pem is not a certificate: ${(cause as Error).message}`, cause);
  }
  if (info.subject !== `CN=${e.id}` && !info.subject.split(/,\s*/).includes(`CN=${e.id}`)) {
    throw invalid(`identity in ${dir}: the certificate is for ${info.subject}, not CN=${e.id}`);
  }
  return { ...files, dir, id: e.id, certNotBefore: info.notBefore, certNotAfter: info.notAfter };
}

/** Completes or discards a swap interrupted by a crash (see writeIdentity). */
async function recoverSwap(dir: string): Promise<void> {
  const fresh = `${dir}.new`;
  const old = `${dir}.old`;
  if (!existsSync(dir) && existsSync(join(fresh, 'enrolment.json'))) await rename(fresh, dir);
  else if (!existsSync(dir) && existsSync(old)) await rename(old, dir);
  await rm(fresh, { recursive: true, force: true });
  await rm(old, { recursive: true, force: true });
}
