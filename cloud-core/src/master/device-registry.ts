import { Buffer } from 'node:buffer';
import { X509Certificate, createHash, randomBytes, timingSafeEqual, verify } from 'node:crypto';
import { ErrorCodes, TributaryError, filterCoveredBy, matchesFilter, type Logger } from '@tributary/shared';
import { hashSecret, secretMatches, type BrokerAuthenticator, type Principal } from '../broker/index.js';
import { CertError, principalOf, verifyCsr, type Pki } from '../pki/index.js';
import type { DeviceRecord, DeviceRole, MasterStore } from './master-store.js';

/** Why an enrolment or renewal was refused: the `reason` label of `tributary_enrolment_refused_total`. */
export type RefusalReason = 'unknown' | 'expired' | 'reused' | 'revoked' | 'csr' | 'cert' | 'proof';

/** A refused enrolment or renewal (403); `reason` says which check failed. */
export class EnrolmentRefused extends TributaryError {
  constructor(readonly reason: RefusalReason, message: string) {
    super(ErrorCodes.ENROLMENT_REFUSED, message);
  }
}

export type DeviceState = 'pending' | 'expired' | 'enrolled' | 'revoked';
export const DEVICE_STATES: readonly DeviceState[] = ['pending', 'expired', 'enrolled', 'revoked'];

/** A device as the REST API shows it: never its hashes. */
export interface DeviceView {
  id: string; role: DeviceRole; state: DeviceState; labels: Record<string, string>; grants?: DeviceRecord['grants'];
  createdAt: number; tokenExpiresAt: number; enrolledAt?: number; renewedAt?: number; revokedAt?: number; certNotAfter?: number;
}

/** The broker URLs enrolment hands to a device (enrolment.json `brokers`). */
export interface BrokerUrls { tls?: string; plain?: string }

/** What `POST /enrol` (and, without `secret`, `POST /enrol/renew`) answers. */
export interface EnrolmentGrant {
  id: string; role: DeviceRole;
  /** The device's new certificate, the CA, and the master's Ed25519 signing key: PEM. */
  cert: string; ca: string; signingKey: string;
  /** The per-device MQTT secret (password, username = id): given once, at enrolment. */
  secret?: string;
  brokers: BrokerUrls;
  /** ISO 8601. */
  certNotAfter: string;
}

export interface DeviceRegistryOptions {
  store: Pick<MasterStore, 'listDevices' | 'putDevice'>;
  pki: Pki;
  log: Logger;
  /** Client certificate lifetime (setting `certLifetimeDays`, default 30 days). */
  certLifetimeMs: number;
  /** The broker URLs of this master, asked at each enrolment (known once the broker listens). */
  brokers: () => BrokerUrls;
  /** Revocation: close the identity's live connections (`EmbeddedBroker.disconnectIdentity`). */
  onRevoke?: (id: string) => void;
  /**
   * Agents and workers on application (non-`trib/`) topics: the topics the plans of running
   * applications declare. Supplied by the master; default: deny.
   */
  appTopics?: (topic: string, access: 'read' | 'write', p: Principal) => boolean;
  /** Injected time (tests); default Date.now. */
  now?: () => number;
}

const DEFAULT_TOKEN_TTL_S = 24 * 3600;
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
const sameHash = (a: string, b: string) => a.length === b.length && timingSafeEqual(Buffer.from(a, 'hex'), Buffer.from(b, 'hex'));

/**
 * The master's device registry: who may join the fleet (`devices add` issues a one-time token),
 * enrolment (token + CSR -> certificate and secret), renewal, revocation; and, as the embedded
 * broker's BrokerAuthenticator, who a connecting client is. Called by the REST routes
 * (device-routes.ts), the broker (on every CONNECT and application-topic access) and metrics.
 * State lives in memory, written through to the master's store on every change.
 */
export class DeviceRegistry implements BrokerAuthenticator {
  private readonly devices = new Map<string, DeviceRecord>();
  private readonly refused = new Map<RefusalReason, number>();
  private readonly now: () => number;
  /** The master's own MQTT password over plain loopback: lives only in this process's memory. */
  readonly masterPassword = randomBytes(32).toString('base64url');
  private readonly masterPasswordHash = hashSecret(this.masterPassword);

  constructor(private readonly o: DeviceRegistryOptions) {
    this.now = o.now ?? Date.now;
  }

  async load(): Promise<void> {
    for (const d of await this.o.store.listDevices()) this.devices.set(d.id, d);
  }

  stateOf(d: DeviceRecord): DeviceState {
    if (d.revokedAt !== undefined) return 'revoked';
    if (d.enrolledAt !== undefined) return 'enrolled';
    return this.now() > d.tokenExpiresAt ? 'expired' : 'pending';
  }

  list(): DeviceView[] {
    return [...this.devices.values()].sort((a, b) => a.id.localeCompare(b.id)).map((d) => this.view(d));
  }

  get(id: string): DeviceView | undefined {
    const d = this.devices.get(id);
    return d && this.view(d);
  }

  /** Devices per state, for `tributary_devices{state}`. */
  stateCounts(): Record<DeviceState, number> {
    const out = Object.fromEntries(DEVICE_STATES.map((s) => [s, 0])) as Record<DeviceState, number>;
    for (const d of this.devices.values()) out[this.stateOf(d)]++;
    return out;
  }

  /** Refused enrolments and renewals per reason, for `tributary_enrolment_refused_total{reason}`. */
  refusedCounts(): ReadonlyMap<RefusalReason, number> {
    return this.refused;
  }

  /**
   * `devices add`: registers `id` and returns its one-time enrolment token (only its hash is
   * kept). An id that exists and is not revoked is refused (DEVICE_EXISTS); a revoked one starts
   * over with a fresh record.
   */
  async add(req: { id: string; role?: DeviceRole; labels?: Record<string, string>; ttlSeconds?: number; grants?: DeviceRecord['grants'] }): Promise<{ id: string; token: string; expiresAt: number }> {
    const old = this.devices.get(req.id);
    if (old && old.revokedAt === undefined) throw new TributaryError(ErrorCodes.DEVICE_EXISTS, `device ${req.id} is already registered (${this.stateOf(old)}); revoke it first to enrol it again`);
    // Hex, not base64url: a token starting with '-' would read as a flag on a command line.
    const token = randomBytes(32).toString('hex');
    const now = this.now();
    const role = req.role ?? 'agent';
    const d: DeviceRecord = {
      id: req.id, role, labels: req.labels ?? {}, createdAt: now,
      tokenHash: sha256(token), tokenExpiresAt: now + (req.ttlSeconds ?? DEFAULT_TOKEN_TTL_S) * 1000,
      ...(role === 'client' && req.grants ? { grants: req.grants } : {}),
    };
    this.devices.set(d.id, d);
    await this.o.store.putDevice(d);
    this.o.log.info({ id: d.id, role, expiresAt: new Date(d.tokenExpiresAt).toISOString() }, 'device added');
    return { id: d.id, token, expiresAt: d.tokenExpiresAt };
  }

  /**
   * `POST /enrol`: a device trades its token and a CSR (CN = id) for a certificate, the CA, its
   * secret and the master's signing key. The token works once: it is consumed before the first
   * await after the checks, so two concurrent uses cannot both pass.
   */
  async enrol(req: { id: string; token: string; csr: string }): Promise<EnrolmentGrant> {
    this.checkToken(req.id, req.token);
    const publicKey = await this.csrKey(req.csr, req.id);
    const d = this.checkToken(req.id, req.token); // again: another enrolment may have won meanwhile
    const now = this.now();
    d.enrolledAt = now;
    try {
      const issued = await this.o.pki.issueClient({ id: d.id, role: d.role }, publicKey, this.o.certLifetimeMs, new Date(now));
      const secret = randomBytes(32).toString('base64url');
      d.secretHash = hashSecret(secret);
      d.certSerials = [issued.serial];
      d.certNotAfter = issued.notAfter.getTime();
      await this.o.store.putDevice(d);
      this.o.log.info({ id: d.id, role: d.role, serial: issued.serial, certNotAfter: issued.notAfter.toISOString() }, 'device enrolled');
      return this.grant(d, issued.pem, secret);
    } catch (err) {
      delete d.enrolledAt;
      throw err;
    }
  }

  /**
   * `POST /enrol/renew`: a new certificate for an enrolled device, proven by its current one:
   * `cert` must chain to the CA, be unexpired and still accepted (not revoked, not superseded
   * twice), and `proof` must be the current key's signature over the CSR (see `proofVerifies`).
   */
  async renew(req: { id: string; csr: string; cert: string; proof: string }): Promise<EnrolmentGrant> {
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(req.cert);
    } catch {
      throw this.refuse('cert', req.id, 'the current certificate is not a PEM certificate');
    }
    const p = principalOf(cert);
    if (!p || p.id !== req.id) throw this.refuse('cert', req.id, 'the current certificate does not name this device');
    if (!this.o.pki.verifyIssued(cert, new Date(this.now()))) throw this.refuse('cert', req.id, 'the current certificate is not valid: not issued by this CA, or expired');
    const d = this.devices.get(req.id);
    if (!d) throw this.refuse('unknown', req.id, 'unknown device');
    if (d.revokedAt !== undefined) throw this.refuse('revoked', req.id, 'the device is revoked');
    if (!d.certSerials?.includes(cert.serialNumber) || p.role !== d.role) throw this.refuse('cert', req.id, 'the current certificate is no longer accepted');
    if (!proofVerifies(cert, req.csr, req.proof)) throw this.refuse('proof', req.id, 'the proof is not the current key\'s signature over the certificate request');
    const publicKey = await this.csrKey(req.csr, req.id);
    const now = this.now();
    const issued = await this.o.pki.issueClient({ id: d.id, role: d.role }, publicKey, this.o.certLifetimeMs, new Date(now));
    if (d.revokedAt !== undefined) throw this.refuse('revoked', req.id, 'the device is revoked');
    d.certSerials = [issued.serial, cert.serialNumber];
    d.certNotAfter = issued.notAfter.getTime();
    d.renewedAt = now;
    await this.o.store.putDevice(d);
    this.o.log.info({ id: d.id, serial: issued.serial, certNotAfter: issued.notAfter.toISOString() }, 'device certificate renewed');
    return this.grant(d, issued.pem);
  }

  /** `devices revoke`: refused from now on, and its live connections closed at once. */
  async revoke(id: string): Promise<DeviceView> {
    const d = this.devices.get(id);
    if (!d) throw new TributaryError(ErrorCodes.DEVICE_UNKNOWN, `no device ${id}`);
    if (d.revokedAt === undefined) {
      d.revokedAt = this.now();
      await this.o.store.putDevice(d);
      this.o.log.warn({ id }, 'device revoked');
    }
    this.o.onRevoke?.(id);
    return this.view(d);
  }

  // BrokerAuthenticator: asked by the embedded broker on every CONNECT and application-topic use.

  fromCertificate(cert: X509Certificate): Principal | null {
    const p = principalOf(cert);
    if (!p) return null;
    if (p.role === 'master') return p.id === 'master' && cert.serialNumber === this.o.pki.masterCert.serialNumber ? p : null;
    const d = this.devices.get(p.id);
    if (!d || this.stateOf(d) !== 'enrolled' || d.role !== p.role || !d.certSerials?.includes(cert.serialNumber)) return null;
    return { id: d.id, role: d.role };
  }

  fromPassword(username: string, password: Buffer): Principal | null {
    if (username === 'master') return secretMatches(password, this.masterPasswordHash) ? { id: 'master', role: 'master' } : null;
    const d = this.devices.get(username);
    if (!d || this.stateOf(d) !== 'enrolled' || !d.secretHash || !secretMatches(password, d.secretHash)) return null;
    return { id: d.id, role: d.role };
  }

  mayUseAppTopic(p: Principal, access: 'read' | 'write', topicOrFilter: string): boolean {
    if (p.role === 'client') {
      const g = this.devices.get(p.id)?.grants;
      if (!g) return false;
      return access === 'write' ? (g.write ?? []).some((f) => matchesFilter(f, topicOrFilter)) : (g.read ?? []).some((f) => filterCoveredBy(topicOrFilter, f));
    }
    if (p.role === 'agent' || p.role === 'worker') return this.o.appTopics?.(topicOrFilter, access, p) ?? false;
    return false;
  }

  private checkToken(id: string, token: string): DeviceRecord {
    const d = this.devices.get(id);
    if (!d || !sameHash(sha256(token), d.tokenHash)) throw this.refuse('unknown', id, 'unknown enrolment token');
    if (d.revokedAt !== undefined) throw this.refuse('revoked', id, 'the device is revoked');
    if (d.enrolledAt !== undefined) throw this.refuse('reused', id, 'the enrolment token was already used');
    if (this.now() > d.tokenExpiresAt) throw this.refuse('expired', id, `the enrolment token expired at ${new Date(d.tokenExpiresAt).toISOString()}`);
    return d;
  }

  private async csrKey(csr: string, id: string) {
    try {
      return await verifyCsr(csr, id);
    } catch (err) {
      if (err instanceof CertError) this.count('csr', id, err.message);
      throw err;
    }
  }

  private refuse(reason: RefusalReason, id: string, message: string): EnrolmentRefused {
    this.count(reason, id, message);
    return new EnrolmentRefused(reason, message);
  }

  private count(reason: RefusalReason, id: string, message: string): void {
    this.refused.set(reason, (this.refused.get(reason) ?? 0) + 1);
    this.o.log.warn({ id, reason, error: message }, 'enrolment refused');
  }

  private grant(d: DeviceRecord, cert: string, secret?: string): EnrolmentGrant {
    return {
      id: d.id, role: d.role, cert, ca: this.o.pki.caCertPem, signingKey: this.o.pki.signingPublicPem,
      ...(secret !== undefined ? { secret } : {}), brokers: this.o.brokers(), certNotAfter: new Date(d.certNotAfter!).toISOString(),
    };
  }

  private view(d: DeviceRecord): DeviceView {
    const { tokenHash: _t, secretHash: _s, certSerials: _c, ...rest } = d;
    return { ...rest, state: this.stateOf(d) };
  }
}

/**
 * The renewal proof: base64 of an ECDSA-SHA256 signature by the key of `cert` over the CSR's
 * bytes. Accepted over the CSR PEM text exactly as sent (UTF-8) or over its DER, and in either
 * signature encoding (DER, Node's default for `crypto.sign`, or IEEE P1363 r||s, WebCrypto's).
 */
export function proofVerifies(cert: X509Certificate, csrPem: string, proof: string): boolean {
  const sig = Buffer.from(proof, 'base64');
  if (sig.length === 0) return false;
  const datas = [Buffer.from(csrPem, 'utf8')];
  const body = /-----BEGIN CERTIFICATE REQUEST-----([\s\S]*?)-----END CERTIFICATE REQUEST-----/.exec(csrPem)?.[1];
  if (body) datas.push(Buffer.from(body.replace(/\s+/g, ''), 'base64'));
  for (const data of datas) {
    for (const dsaEncoding of ['der', 'ieee-p1363'] as const) {
      try {
        if (verify('sha256', data, { key: cert.publicKey, dsaEncoding }, sig)) return true;
      } catch {
        // a malformed signature for this encoding: try the next
      }
    }
  }
  return false;
}
