import { createHash, timingSafeEqual, type X509Certificate } from 'node:crypto';
import { Buffer } from 'node:buffer';
import { filterCoveredBy, isValidId, matchesFilter } from '@tributary/shared';

/**
 * Broker authentication (issue 13, /work/security-spec.md "Broker"): the seam between the
 * embedded broker, which asks "who is this client and what may it touch?" on every CONNECT and
 * for every application topic, and whoever knows the fleet's identities: the master's device
 * registry (helper "pki") in production, {@link staticAuthenticator} in tests and until then.
 *
 * The broker itself enforces everything about `trib/` topics (topics.ts `ACL_RULES`, `%c` = the
 * principal id, master rules for role `master`), the client-id rule (client id = principal id or
 * `<id>.<anything>`, for a node's connector clients) and that only role `master` may be `master`.
 */

/** What an identity is for. `client`: an external MQTT consumer/producer with explicit topic grants. */
export type Role = 'master' | 'worker' | 'agent' | 'client';

export const ROLES: readonly Role[] = ['master', 'worker', 'agent', 'client'];

/** An authenticated identity: the node id (= certificate CN = MQTT username) and its role. */
export interface Principal {
  id: string;
  role: Role;
}

export interface BrokerAuthenticator {
  /** A client cert that already chained to the CA in the TLS handshake; null = refuse (unknown, revoked, bad role). */
  fromCertificate(cert: X509Certificate): Principal | null;
  /** username/password (per-device secret); null = refuse. */
  fromPassword(username: string, password: Buffer): Principal | null;
  /** Non-`trib/` (application) topics: may this principal publish (write) / subscribe (read)? */
  mayUseAppTopic(p: Principal, access: 'read' | 'write', topicOrFilter: string): boolean;
}

/**
 * How a per-device secret is stored: SHA-256 (hex) of the password bytes the device sends (the
 * base64url text of its 32 random bytes). A fast hash is enough: the secret has 256 bits of
 * entropy, so there is nothing to brute-force; what matters is that the stored form is useless.
 */
export function hashSecret(secret: string | Buffer): string {
  return createHash('sha256').update(secret).digest('hex');
}

/** Whether `password` hashes to `secretHash`, in constant time. */
export function secretMatches(password: Buffer, secretHash: string): boolean {
  const got = Buffer.from(hashSecret(password), 'hex');
  const want = Buffer.from(secretHash, 'hex');
  return got.length === want.length && timingSafeEqual(got, want);
}

/** Application topics a principal may use: MQTT filters; `write` matches topics, `read` must cover the whole filter. */
export interface AppTopicGrants {
  read?: readonly string[];
  write?: readonly string[];
}

export interface StaticAuthenticatorOptions {
  /**
   * Certificate identities: subject CN -> role. The TLS handshake already proved the certificate
   * chains to the fabric CA; a CN not listed here (or revoked) is refused. (The real registry
   * reads the role from the certificate itself, helper "pki".)
   */
  certs?: ReadonlyMap<string, Role>;
  /** Password identities: username (= id) -> role and `hashSecret(secret)`. */
  secrets?: ReadonlyMap<string, { role: Role; secretHash: string }>;
  /** Application topic grants per principal id; none = no application topic at all. */
  appTopics?: ReadonlyMap<string, AppTopicGrants>;
}

/** A memory {@link BrokerAuthenticator}; `revoke`/`restore` change what later CONNECTs get. */
export interface StaticAuthenticator extends BrokerAuthenticator {
  /** Refuse this id from now on (certificate and password); live connections are the broker's job (`disconnectIdentity`). */
  revoke(id: string): void;
  restore(id: string): void;
}

/** Subject CN of a certificate, or null (none, several, or not a usable id). */
export function certificateCommonName(cert: X509Certificate): string | null {
  const cns = cert.subject.split('\n').filter((l) => l.startsWith('CN=')).map((l) => l.slice(3));
  return cns.length === 1 && isValidId(cns[0]) ? cns[0] : null;
}

/**
 * A fixed table of identities: used by the broker tests, and usable by the master until the
 * device registry implements {@link BrokerAuthenticator}.
 */
export function staticAuthenticator(options: StaticAuthenticatorOptions): StaticAuthenticator {
  const revoked = new Set<string>();
  return {
    fromCertificate(cert) {
      const id = certificateCommonName(cert);
      if (id === null || revoked.has(id)) return null;
      const role = options.certs?.get(id);
      return role ? { id, role } : null;
    },
    fromPassword(username, password) {
      if (revoked.has(username)) return null;
      const entry = options.secrets?.get(username);
      if (!entry || !secretMatches(password, entry.secretHash)) return null;
      return { id: username, role: entry.role };
    },
    mayUseAppTopic(p, access, topicOrFilter) {
      const grants = options.appTopics?.get(p.id);
      if (!grants) return false;
      if (access === 'write') return (grants.write ?? []).some((f) => matchesFilter(f, topicOrFilter));
      return (grants.read ?? []).some((f) => filterCoveredBy(topicOrFilter, f));
    },
    revoke: (id) => void revoked.add(id),
    restore: (id) => void revoked.delete(id),
  };
}
