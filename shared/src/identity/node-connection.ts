import { isIP } from 'node:net';
import { ConfigError, ErrorCodes, TributaryError } from '../api/errors.js';
import type { Logger } from '../log/log.js';
import { enrol } from './enrol-client.js';
import { loadIdentity, type NodeIdentity, type NodeRole } from './identity-store.js';
import { IdentityRenewer, type IdentityClock } from './identity-renewer.js';

/** How a node authenticates to the broker: a client certificate (mqtts) or id + per-device secret (mqtt). */
export interface MqttCredentials {
  tls?: { ca: string; cert: string; key: string };
  username?: string;
  password?: string;
}

/** Where and as whom a node connects; `identity` null = anonymously (a broker without authentication). */
export interface NodeConnection {
  brokerUrl: string;
  credentials: MqttCredentials;
  identity: NodeIdentity | null;
}

export interface NodeConnectionOptions {
  id: string;
  role: NodeRole;
  /**
   * `--master`: `http(s)://` is the master's REST API (enrol if there is no identity yet, then the
   * broker enrolment named); `mqtt(s)://` is the broker itself (with the stored identity, if any).
   */
  master: string;
  /** One-time enrolment token (`--token`, TRIBUTARY_ENROL_TOKEN); needed only to enrol. */
  token?: string;
  /** `auto` (default): the plain loopback listener when the master is on this host; `always`: TLS. */
  brokerTls?: 'auto' | 'always';
  dataDir: string;
  log: Logger;
  clock?: Pick<IdentityClock, 'now'>;
}

export const isMasterApiUrl = (url: string): boolean => /^https?:\/\//i.test(url);

/**
 * Whether `host` names the loopback interface only: 127.0.0.0/8, ::1 (also as ::ffff:127.x),
 * localhost. What the broker's plain listener may bind (cloud-core broker-listeners.ts), and how a
 * node tells that its master is on its own host.
 */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h === '::1') return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  return h.startsWith('::ffff:127.');
}

/** Whether `url`'s host is loopback (isLoopbackHost); false for anything that is not a URL. */
export function isLoopbackUrl(url: string): boolean {
  try {
    return isLoopbackHost(new URL(url).hostname);
  } catch {
    return false;
  }
}

/**
 * Decides how a worker or agent connects (security-spec.md, "Node CLI"), enrolling first when it
 * must. Called once at start by the composition roots (edge-agent/src/main.ts,
 * cloud-core/src/worker/main.ts), before the NodeAgent connects. Prefers TLS with the client
 * certificate, except on the master's own host (`brokerTls` auto: its plain loopback listener);
 * uses username = id, password = secret on a plain `mqtt://` broker.
 */
export async function resolveNodeConnection(o: NodeConnectionOptions): Promise<NodeConnection> {
  const viaApi = isMasterApiUrl(o.master);
  const now = (o.clock ?? Date).now();
  let identity = await loadIdentity(o.dataDir);
  if (identity && identity.id !== o.id) {
    throw new TributaryError(ErrorCodes.IDENTITY_INVALID, `${identity.dir} holds the identity of ${identity.id}, not of ${o.id}: give each node its own --data`);
  }
  if (identity && now >= identity.certNotAfter) {
    const expired = `the certificate of ${o.id} expired at ${new Date(identity.certNotAfter).toISOString()}`;
    if (!(viaApi && o.token)) {
      throw new TributaryError(ErrorCodes.CERT_EXPIRED, `${expired}: enrol this node again (tributary devices add ${o.id}, then start it with --master <http url> --token <token>)`);
    }
    o.log.warn({ event: 'certificate-expired', id: o.id }, `${expired}: enrolling again with the token given`);
    identity = null;
  }
  if (!identity && o.token && !viaApi) {
    throw new ConfigError(`an enrolment token needs the master's REST API: --master http(s)://<master>:<port>, not ${o.master}`);
  }
  if (!identity && viaApi) {
    if (!o.token) {
      throw new TributaryError(ErrorCodes.IDENTITY_INVALID, `${o.id} has no identity in ${o.dataDir}/identity and no enrolment token: create one with \`tributary devices add ${o.id}\` and pass it with --token (or TRIBUTARY_ENROL_TOKEN)`);
    }
    o.log.info({ event: 'enrolling', id: o.id, master: o.master }, 'no identity yet: enrolling with the master');
    identity = await enrol({ masterUrl: o.master, id: o.id, token: o.token, role: o.role, dataDir: o.dataDir, log: o.log });
  } else if (identity && o.token) {
    o.log.info({ id: o.id, dir: identity.dir }, 'identity present: the enrolment token is not used');
  }
  if (viaApi && identity && identity.enrolment.masterUrl !== o.master.replace(/\/+$/, '')) {
    // Same master under another name, or another master: its broker must trust our CA; say which.
    o.log.warn({ id: o.id, enrolledWith: identity.enrolment.masterUrl, master: o.master }, 'the identity was issued by the master at another URL: connecting to the broker it named');
  }
  let brokerUrl = o.master;
  if (viaApi) {
    const { tls, plain } = identity!.enrolment.brokers;
    // On the master's own host its loopback listener needs no TLS (see the config's brokerTls).
    const local = o.brokerTls !== 'always' && plain !== undefined && isLoopbackUrl(plain) && isLoopbackUrl(o.master);
    const chosen = local ? plain : tls ?? plain;
    if (!chosen) throw new TributaryError(ErrorCodes.ENROLMENT_FAILED, `the master at ${o.master} named no MQTT broker at enrolment (enrolment.json brokers is empty)`);
    brokerUrl = chosen;
  }
  return { brokerUrl, credentials: identity ? credentialsFor(identity, brokerUrl) : {}, identity };
}

/** The credentials of `identity` for `brokerUrl`: its certificate over TLS, its secret otherwise. */
export function credentialsFor(identity: NodeIdentity, brokerUrl: string): MqttCredentials {
  if (/^mqtts:\/\//i.test(brokerUrl)) return { tls: { ca: identity.ca, cert: identity.cert, key: identity.key } };
  return { username: identity.id, password: identity.secret };
}

/**
 * Keeps a connection's certificate renewed (IdentityRenewer); `onRenewed` gets the new credentials
 * for the node's next reconnect. Null when the node connects without an identity.
 */
export function startRenewal(
  conn: NodeConnection,
  o: { dataDir: string; log: Logger; clock?: IdentityClock; onRenewed: (c: MqttCredentials) => void },
): IdentityRenewer | null {
  if (!conn.identity) return null;
  return new IdentityRenewer({
    identity: conn.identity, dataDir: o.dataDir, log: o.log, clock: o.clock,
    onRenewed: (identity) => o.onRenewed(credentialsFor(identity, conn.brokerUrl)),
  }).start();
}
