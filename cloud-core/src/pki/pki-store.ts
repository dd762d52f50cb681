import { X509Certificate, createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { Logger } from '@tributary/shared';
import {
  addDays, backdated, createCaCertificate, cryptoKeysOf, issueCertificate, newEcKeyPem, subjectOf, type CertPrincipal,
} from './certificates.js';
import type { x509 } from './x509.js';

/** Lifetime of the broker's server certificate and of the master's own client certificate. */
const SERVICE_CERT_DAYS = 397;
/** A service certificate with less than this left is issued again at start. */
const RENEW_SERVICE_BEFORE_DAYS = 30;

/** The names every server certificate carries; `--tls-name` values are added. */
export function defaultTlsNames(): string[] {
  return ['localhost', '127.0.0.1', '::1', hostname()];
}

/**
 * The master's PKI under `<master data>/pki/` (layout in /work/security-spec.md):
 * ca.key (0600) + ca.crt, server.key (0600) + server.crt (the broker's TLS certificate),
 * master.key (0600) + master.crt (the master's own client identity, role master),
 * signing.key (0600) + signing.pub (Ed25519: bundle and artefact signatures).
 * Created by `tributary certs init` or by the master's first start (`loadOrCreatePki`); loaded as
 * is afterwards. The CA key never leaves this object except through the files.
 */
export class Pki {
  private constructor(
    readonly dir: string,
    private readonly caKeyPem: string,
    readonly caCertPem: string,
    readonly serverKeyPem: string,
    readonly serverCertPem: string,
    readonly masterKeyPem: string,
    readonly masterCertPem: string,
    /** Ed25519 private key: the master signs bundles and artefacts with it. */
    readonly signingKey: KeyObject,
    /** Its public half, SPKI PEM: what enrolment hands to nodes (`master-signing.pub`). */
    readonly signingPublicPem: string,
  ) {
    this.caCert = new X509Certificate(caCertPem);
    this.masterCert = new X509Certificate(masterCertPem);
  }

  readonly caCert: X509Certificate;
  readonly masterCert: X509Certificate;

  /** Paths of the files, for configurations that name them (Mosquitto). */
  get paths() {
    return pkiPaths(this.dir);
  }

  /** Issues a client certificate for `p` over `publicKey` (from a verified CSR), valid `lifetimeMs` from `now`. */
  issueClient(p: CertPrincipal, publicKey: x509.PublicKey | CryptoKey, lifetimeMs: number, now = new Date()) {
    return issueCertificate({
      caKeyPem: this.caKeyPem, caCertPem: this.caCertPem, subject: subjectOf(p), publicKey, usage: 'client',
      notBefore: backdated(now), notAfter: new Date(now.getTime() + lifetimeMs),
    });
  }

  /** Whether `cert` was signed by this CA and is within its validity at `now`. */
  verifyIssued(cert: X509Certificate, now = new Date()): boolean {
    if (!cert.checkIssued(this.caCert) || !cert.verify(this.caCert.publicKey)) return false;
    return new Date(cert.validFrom) <= now && now <= new Date(cert.validTo);
  }

  /**
   * Loads the PKI from `dir`, creating whatever is missing: a fresh CA, a server certificate
   * for `tlsNames` (plus localhost, loopback and the host name), the master's certificate, the
   * signing key. A server certificate missing one of the names, or near its end, is issued again;
   * nothing else that exists is ever replaced. Idempotent.
   */
  static async loadOrCreate(dir: string, options: { tlsNames?: readonly string[]; log?: Logger; now?: Date } = {}): Promise<Pki> {
    const now = options.now ?? new Date();
    const log = options.log;
    const p = pkiPaths(dir);
    await mkdir(dir, { recursive: true, mode: 0o700 });

    let caKeyPem = await readOptional(p.caKey);
    let caCertPem = await readOptional(p.caCert);
    if (!caKeyPem) {
      caKeyPem = newEcKeyPem();
      await writeSecret(p.caKey, caKeyPem);
      caCertPem = null;
      log?.info({ dir }, 'PKI: certificate authority created');
    }
    if (!caCertPem) {
      caCertPem = await createCaCertificate(caKeyPem, now);
      await writePublic(p.caCert, caCertPem);
    }
    const caCert = new X509Certificate(caCertPem);
    const usable = (pem: string | null, keyPem: string | null): pem is string => {
      if (!pem || !keyPem) return false;
      const c = new X509Certificate(pem);
      return c.checkIssued(caCert) && c.verify(caCert.publicKey) && new Date(c.validTo).getTime() - now.getTime() > RENEW_SERVICE_BEFORE_DAYS * 86_400_000
        && c.publicKey.export({ type: 'spki', format: 'pem' }) === createPublicKey(keyPem).export({ type: 'spki', format: 'pem' });
    };

    const names = [...new Set([...defaultTlsNames(), ...(options.tlsNames ?? [])])];
    const service = async (keyPath: string, certPath: string, principalOrServer: CertPrincipal | 'server'): Promise<{ keyPem: string; certPem: string }> => {
      let keyPem = await readOptional(keyPath);
      let certPem = await readOptional(certPath);
      const covers = (pem: string) => principalOrServer !== 'server' || names.every((n) => (isIpName(n) ? new X509Certificate(pem).checkIP(n) : new X509Certificate(pem).checkHost(n)) !== undefined);
      if (usable(certPem, keyPem) && covers(certPem)) return { keyPem: keyPem!, certPem };
      if (!keyPem) {
        keyPem = newEcKeyPem();
        await writeSecret(keyPath, keyPem);
      }
      const keys = await cryptoKeysOf(keyPem);
      const issued = await issueCertificate({
        caKeyPem: caKeyPem!, caCertPem: caCertPem!, publicKey: keys.publicKey,
        subject: principalOrServer === 'server' ? 'CN=Tributary broker, O=Tributary' : subjectOf(principalOrServer),
        usage: principalOrServer === 'server' ? 'server' : 'client', ...(principalOrServer === 'server' ? { names } : {}),
        notBefore: backdated(now), notAfter: addDays(now, SERVICE_CERT_DAYS),
      });
      certPem = issued.pem;
      await writePublic(certPath, certPem);
      log?.info({ file: certPath, ...(principalOrServer === 'server' ? { names } : {}), notAfter: issued.notAfter.toISOString() }, 'PKI: certificate issued');
      return { keyPem, certPem };
    };
    const server = await service(p.serverKey, p.serverCert, 'server');
    const master = await service(p.masterKey, p.masterCert, { id: 'master', role: 'master' });

    let signingKeyPem = await readOptional(p.signingKey);
    if (!signingKeyPem) {
      signingKeyPem = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
      await writeSecret(p.signingKey, signingKeyPem);
      log?.info({ file: p.signingKey }, 'PKI: Ed25519 signing key created');
    }
    const signingKey = createPrivateKey(signingKeyPem);
    const signingPublicPem = createPublicKey(signingKey).export({ type: 'spki', format: 'pem' }).toString();
    if ((await readOptional(p.signingPub)) !== signingPublicPem) await writePublic(p.signingPub, signingPublicPem);

    return new Pki(dir, caKeyPem, caCertPem, server.keyPem, server.certPem, master.keyPem, master.certPem, signingKey, signingPublicPem);
  }
}

/** Where each file of the master's PKI lives under `dir` (`<master data>/pki`). */
export function pkiPaths(dir: string) {
  return {
    caKey: join(dir, 'ca.key'), caCert: join(dir, 'ca.crt'),
    serverKey: join(dir, 'server.key'), serverCert: join(dir, 'server.crt'),
    masterKey: join(dir, 'master.key'), masterCert: join(dir, 'master.crt'),
    signingKey: join(dir, 'signing.key'), signingPub: join(dir, 'signing.pub'),
  };
}

function isIpName(n: string): boolean {
  return /^\d{1,3}(\.\d{1,3}){3}$/.test(n) || n.includes(':');
}

async function readOptional(path: string): Promise<string | null> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

/** Written whole or not at all (temp file + rename), so a crash never leaves half a key. */
async function writeAtomic(path: string, text: string, mode: number): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, text, { mode });
  await chmod(tmp, mode); // the umask may have narrowed or the file existed
  await rename(tmp, path);
}

const writeSecret = (path: string, text: string) => writeAtomic(path, text, 0o600);
const writePublic = (path: string, text: string) => writeAtomic(path, text, 0o644);
