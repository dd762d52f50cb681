import { Buffer } from 'node:buffer';
import { X509Certificate } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import type { AedesOptions, AedesPublishPacket, Client } from 'aedes';
import { compileAcl, isValidId, MASTER_ID, touchesFabricTopics, type AclPrincipal, type CompiledAcl, type Logger } from '@tributary/shared';
import { ROLES, type BrokerAuthenticator, type Principal } from './broker-auth.js';
import type { RefusalLog } from './broker-limits.js';

/**
 * Where a denied publish goes. MQTT 3.1.1 has no way to tell a publisher it was refused: Mosquitto
 * acknowledges and drops. aedes instead closes the connection when `authorizePublish` fails, which
 * fires the client's last will (a false "offline") and makes mqtt.js resend the stored QoS 1
 * packet on reconnect, forever. So a denied message is acknowledged and diverted here; the ACL
 * lets nobody subscribe to it (a `$` topic) and it is never retained.
 */
const DENIED_TOPIC = '$TRIB/denied';

/** Acknowledges and drops a denied publish (see DENIED_TOPIC). */
export function divert(packet: Pick<AedesPublishPacket, 'topic' | 'retain' | 'payload'>): void {
  packet.topic = DENIED_TOPIC;
  packet.retain = false;
  packet.payload = Buffer.alloc(0);
}

type AuthenticateDone = Parameters<NonNullable<AedesOptions['authenticate']>>[3];
type Hooks = Required<Pick<AedesOptions, 'authenticate' | 'authorizePublish' | 'authorizeSubscribe'>>;

/** The embedded broker's authentication and topic ACL, as aedes hooks (called by embedded-broker.ts). */
export interface AccessControl extends Hooks {
  /** The identity a connected client acts as: its principal id with `auth`, else its client id. */
  identityOf(client: Client): string;
}

export interface AccessControlOptions {
  /** Authenticate and bind the ACL to the principal; absent: anonymous dev broker. */
  auth?: BrokerAuthenticator;
  /** Without `auth`: evaluate the ACL on the client id (username `master` = role master). */
  enforceTopicAcl: boolean;
  refusals: RefusalLog;
  log: Logger;
  /** The client currently connected with this client id, if any (session takeover guard). */
  connectedClient(clientId: string): Client | undefined;
}

/** Who a client is for the ACL, and its compiled rules. */
interface Subject {
  who: AclPrincipal;
  acl: CompiledAcl;
}

/** CONNACK return codes used for refusals (MQTT 3.1.1 §3.2.2.3). */
const BAD_CREDENTIALS = 4;
const NOT_AUTHORIZED = 5;

/** What an aedes client's connection is, when it came through the TLS listener. */
function tlsSocketOf(client: Client): TLSSocket | null {
  const conn = client.conn as Partial<TLSSocket>;
  return typeof conn.getPeerCertificate === 'function' ? (conn as TLSSocket) : null;
}

/**
 * Builds the hooks: authentication at CONNECT (with `auth`), then the topic ACL for every PUBLISH
 * (and last will) and SUBSCRIBE. `trib/` topics follow topics.ts `ACL_RULES` with `%c` = the
 * principal id and the master's rules for role master; other topics ask `auth.mayUseAppTopic`.
 * Every refusal is logged (client id, identity, topic) and counted in the RefusalLog.
 */
export function createAccessControl(options: AccessControlOptions): AccessControl {
  const { auth, refusals } = options;
  const principals = new WeakMap<Client, Principal>();
  // Anonymous dev broker: the username is only seen at CONNECT; remember it for the ACL.
  const usernames = new WeakMap<Client, string>();

  // Each client's ACL, compiled once (a publish check is then a prefix test: topics.ts compileAcl).
  const acls = new WeakMap<Client, Subject>();
  const subjectOf = (client: Client | null, fallbackId: string | undefined): Subject | null => {
    const cached = client ? acls.get(client) : undefined;
    if (cached) return cached;
    let who: AclPrincipal | null;
    if (auth) {
      const p = client ? principals.get(client) : undefined;
      who = p ? { id: p.id, role: p.role } : null;
    } else {
      const username = client ? usernames.get(client) : undefined;
      who = { id: client?.id ?? fallbackId ?? '', role: username === MASTER_ID ? MASTER_ID : undefined };
    }
    if (!who) return null;
    const subject = { who, acl: compileAcl(who) };
    if (client) acls.set(client, subject);
    return subject;
  };

  const mayPublish = ({ who, acl }: Subject, topic: string): boolean => {
    if (touchesFabricTopics(topic)) return acl.canPublish(topic);
    return auth ? appTopic(who as Principal, 'write', topic) : false;
  };
  const maySubscribe = ({ who, acl }: Subject, filter: string): boolean => {
    if (touchesFabricTopics(filter)) return acl.canSubscribe(filter);
    return auth ? appTopic(who as Principal, 'read', filter) : false;
  };
  const appTopic = (who: Principal, access: 'read' | 'write', topicOrFilter: string): boolean => {
    try {
      return auth!.mayUseAppTopic(who, access, topicOrFilter) === true;
    } catch (err) {
      options.log.error({ err, identity: who.id, topic: topicOrFilter }, 'broker authenticator failed; access denied');
      return false;
    }
  };

  /** Refuses a CONNECT: counted (reason auth), logged, answered with `returnCode`. */
  const refuseConnect = (client: Client, identity: string | undefined, why: string, returnCode: number, done: AuthenticateDone): void => {
    refusals.refuse('auth', client.id, { identity, why, returnCode, remote: client.conn && (client.conn as { remoteAddress?: string }).remoteAddress }, 'connection refused: authentication', `${identity ?? ''}/${client.id}`);
    done(Object.assign(new Error(why), { returnCode }) as Parameters<AuthenticateDone>[0], false);
  };

  const authenticate: Hooks['authenticate'] = (client, username, password, done) => {
    if (!auth) {
      if (username !== undefined) usernames.set(client, username);
      return done(null, true);
    }
    let principal: Principal | null;
    let identity: string | undefined = username;
    const tls = tlsSocketOf(client);
    const peer = tls?.authorized ? tls.getPeerCertificate() : undefined;
    if (peer?.raw) {
      // Chained to the CA in the handshake (unverified certificates never get here: the TLS
      // listener closes them). A password sent alongside is not needed and not checked.
      const cert = new X509Certificate(peer.raw);
      principal = safely(options.log, () => auth.fromCertificate(cert));
      identity = cert.subject.replaceAll('\n', ',');
      if (!principal) return refuseConnect(client, identity, 'certificate identity unknown or revoked', NOT_AUTHORIZED, done);
    } else if (username !== undefined) {
      principal = safely(options.log, () => auth.fromPassword(username, password ?? Buffer.alloc(0)));
      if (!principal) return refuseConnect(client, identity, 'bad username or password', BAD_CREDENTIALS, done);
    } else {
      return refuseConnect(client, undefined, 'anonymous client (no certificate, no username)', NOT_AUTHORIZED, done);
    }
    identity = principal.id;
    if (!isValidId(principal.id) || !ROLES.includes(principal.role)) {
      return refuseConnect(client, identity, `not a usable principal (id ${JSON.stringify(principal.id)}, role ${JSON.stringify(principal.role)})`, NOT_AUTHORIZED, done);
    }
    if (principal.id === MASTER_ID && principal.role !== 'master') {
      return refuseConnect(client, identity, `identity "${MASTER_ID}" claimed by role ${principal.role}`, NOT_AUTHORIZED, done);
    }
    if (client.id !== principal.id && !client.id.startsWith(`${principal.id}.`)) {
      return refuseConnect(client, identity, `client id is neither "${principal.id}" nor "${principal.id}.…"`, NOT_AUTHORIZED, done);
    }
    // Ids may contain dots: node `a` may use client id `a.b`, but must not take over the session
    // of a connected node `a.b` (aedes would close it).
    const holder = options.connectedClient(client.id);
    if (holder && holder !== client && principals.get(holder)?.id !== principal.id) {
      return refuseConnect(client, identity, 'client id in use by another identity', NOT_AUTHORIZED, done);
    }
    principals.set(client, principal);
    done(null, true);
  };

  const aclOn = auth !== undefined || options.enforceTopicAcl;
  const authorizePublish: Hooks['authorizePublish'] = (client, packet, done) => {
    if (!aclOn) return done(null);
    // A will of a client gone with an earlier broker instance has no client (memory persistence: never).
    const clientId = client?.id ?? (packet as { clientId?: string }).clientId;
    const subject = subjectOf(client, clientId);
    if (subject && mayPublish(subject, packet.topic)) return done(null);
    refusals.refuse('acl_publish', clientId, { identity: subject?.who.id, topic: packet.topic, retain: packet.retain }, 'publish denied by topic ACL, dropped', `${subject?.who.id ?? ''}/${packet.topic}`);
    divert(packet);
    done(null);
  };

  const authorizeSubscribe: Hooks['authorizeSubscribe'] = (client, sub, done) => {
    if (!aclOn) return done(null, sub);
    const subject = subjectOf(client, undefined);
    if (subject && maySubscribe(subject, sub.topic)) return done(null, sub);
    refusals.refuse('acl_subscribe', client?.id, { identity: subject?.who.id, filter: sub.topic }, 'subscription denied by topic ACL', `${subject?.who.id ?? ''}/${sub.topic}`);
    done(null, null); // SUBACK 0x80 for this filter
  };

  const identityOf = (client: Client): string => principals.get(client)?.id ?? client.id;

  return { authenticate, authorizePublish, authorizeSubscribe, identityOf };
}

/** An authenticator that throws refuses (logged; the broker keeps serving everyone else). */
function safely(log: Logger, f: () => Principal | null): Principal | null {
  try {
    return f();
  } catch (err) {
    log.error({ err }, 'broker authenticator failed; connection refused');
    return null;
  }
}
