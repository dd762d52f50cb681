import { Buffer } from 'node:buffer';
import { createServer, type Server, type Socket } from 'node:net';
import { Aedes, type AedesPublishPacket, type Client } from 'aedes';
import { createLogger, type Logger } from '@tributary/shared';
import { createAccessControl, divert } from './broker-access.js';
import type { BrokerAuthenticator } from './broker-auth.js';
import { assertPlainHostAllowed, createBrokerTlsServer, listen, type BrokerTlsOptions } from './broker-listeners.js';
import {
  PublishRateLimiter, RefusalLog, resolveBrokerLimits, watchPacketSizes, type BrokerLimits, type BrokerStats,
} from './broker-limits.js';

export type { BrokerTlsOptions };

export interface EmbeddedBrokerOptions {
  /**
   * Interface of the plain TCP listener. Default loopback: the embedded broker is for one
   * machine. Anything but a loopback address throws a `ConfigError` unless `allowPlainOnAnyHost`.
   */
  host?: string;
  /** TCP port of the plain listener; 0 picks an ephemeral one (read it back from `port`). Default 1883. */
  port?: number;
  /** Start the plain TCP listener. Default true; false needs `tls`. */
  plain?: boolean;
  /** Let the plain TCP listener bind a non-loopback interface (`--allow-plain-mqtt`). Default false. */
  allowPlainOnAnyHost?: boolean;
  /** Also listen for MQTT over TLS, client certificates requested and verified against `ca`. */
  tls?: BrokerTlsOptions;
  /**
   * Authenticate every client (broker-auth.ts): anonymous clients refused (CONNACK 5), bad
   * credentials CONNACK 4; the topic ACL is then always on, bound to the authenticated identity.
   * Without it the broker is the anonymous dev broker (`tributary broker`, unit tests).
   */
  auth?: BrokerAuthenticator;
  /**
   * Without `auth`: enforce Tributary's per-node topic policy (topics.ts `ACL_RULES`, the same
   * policy as the generated Mosquitto ACL) on the client id: a client publishes only under
   * `trib/<its id>/` and subscribes only to topics addressed to it; username `master` gets the
   * master's rules. Default false. (With `auth` the ACL is always on.)
   */
  enforceTopicAcl?: boolean;
  log?: Logger;
  /**
   * Fault injection (tests, chaos runs): return false to drop a message on its way to one
   * subscriber, as a lossy network or a broker losing its in-flight queue would.
   */
  forward?: (topic: string, clientId: string, payload: Buffer) => boolean;
  /**
   * Fault injection: return false to refuse a client's connection (closed before CONNACK, as a
   * link that is down would look to it: it keeps retrying). Default: everyone is admitted.
   */
  admit?: (clientId: string) => boolean;
  /**
   * Resource limits (packet size, publish rate per client, connections); unset fields take
   * `DEFAULT_BROKER_LIMITS` (broker-limits.ts), 0 turns one off. Refusals are counted (`stats()`).
   */
  limits?: Partial<BrokerLimits>;
}

/** Client events the embedded broker reports through `EmbeddedBroker.on`. */
export type BrokerClientEvent = 'ping' | 'clientDisconnect' | 'keepaliveTimeout';

export interface EmbeddedBroker {
  /** `mqtt://host:port` of the plain listener, for `TransportOptions.url` ('' when `plain: false`). */
  readonly url: string;
  readonly host: string;
  /** Port of the plain listener (0 when `plain: false`). */
  readonly port: number;
  /** `mqtts://host:port` of the TLS listener, when `tls` was given. */
  readonly tlsUrl?: string;
  readonly tlsPort?: number;
  /**
   * Revocation: closes every live connection of identity `id` (the node's own client and its
   * `<id>.…` connector clients) without a DISCONNECT (their wills fire). Reconnects are refused
   * as soon as the authenticator refuses the id: it is asked on every CONNECT. Returns how many
   * connections were closed. Without `auth`, matches client ids the same way.
   */
  disconnectIdentity(id: string): number;
  /**
   * Fault injection: drops one client's connection without a DISCONNECT (its last will is
   * published), as a broken link would. Returns false when no such client is connected.
   */
  disconnect(clientId: string): boolean;
  /**
   * Observation hook (tests, diagnostics): calls `listener` with the client id on each of that
   * client event: 'ping' (a PINGREQ), 'clientDisconnect' (its connection gone, for whatever
   * reason), 'keepaliveTimeout' (the broker gave up on a silent client). Returns the unsubscriber.
   */
  on(event: BrokerClientEvent, listener: (clientId: string) => void): () => void;
  /** Connected clients and refusals by the limits so far (the master exports them to Prometheus). */
  stats(): BrokerStats;
  /** Closes every client connection, the listener and the broker. Idempotent. */
  close(): Promise<void>;
}

/**
 * Starts the default broker of a one-machine deployment: aedes over plain TCP (loopback) and,
 * with `tls`, MQTT over TLS. Called by the master's composition root (and by tests); several
 * masters or external clients at scale use an external broker instead (DESIGN.md "Beyond one
 * machine").
 */
export async function startEmbeddedBroker(options: EmbeddedBrokerOptions = {}): Promise<EmbeddedBroker> {
  const host = options.host ?? '127.0.0.1';
  const requestedPort = options.port ?? 1883;
  const plain = options.plain ?? true;
  for (const p of [requestedPort, options.tls?.port ?? 8883]) {
    if (!Number.isInteger(p) || p < 0 || p > 65535) throw new TypeError(`Invalid port ${String(p)}`);
  }
  if (!plain && !options.tls) throw new TypeError('startEmbeddedBroker: plain: false needs tls');
  if (plain) assertPlainHostAllowed(host, options.allowPlainOnAnyHost);
  const log = (options.log ?? createLogger()).child({ component: 'embedded-broker' });
  const forward = options.forward;
  const admit = options.admit;
  const limits = resolveBrokerLimits(options.limits);
  const refusals = new RefusalLog(log);
  const rate = new PublishRateLimiter(limits.maxPublishRate, limits.publishBurst);
  // aedes keeps its client table private; the fault hook `disconnect` and the limits need it.
  const connected = new Map<string, Client>();
  // Client ids by socket, for the packet-size guard (which sees bytes, not clients).
  const socketIds = new WeakMap<Socket, string>();
  // Sockets closed for an oversize packet. The guard sees the chunk as aedes reads it, so aedes
  // still parses that chunk: a whole oversize PUBLISH in it must not go through.
  const oversized = new WeakSet<Socket>();
  const access = createAccessControl({
    auth: options.auth, enforceTopicAcl: options.enforceTopicAcl === true, refusals, log, connectedClient: (id) => connected.get(id),
  });
  const broker = await Aedes.createBroker({
    ...(admit ? { preConnect: (_client: Client, packet: { clientId: string }, done: (err: Error | null, ok: boolean) => void) => done(null, admit(packet.clientId)) } : {}),
    // Connection limit: refused with CONNACK 3 (server unavailable); a client replacing its own
    // session (same id) does not add a connection and is always admitted. Then authentication.
    authenticate(client, username, password, done) {
      socketIds.set(client.conn as Socket, client.id);
      if (limits.maxConnections > 0 && connected.size >= limits.maxConnections && !connected.has(client.id)) {
        refusals.refuse('connections', client.id, { maxConnections: limits.maxConnections }, 'connection refused: broker at its connection limit');
        return done(Object.assign(new Error('server unavailable'), { returnCode: 3 }) as Parameters<typeof done>[0], false);
      }
      access.authenticate(client, username, password, done);
    },
    // Publish rate: over the client's bucket, acknowledged and dropped (BrokerLimits.maxPublishRate
    // says why not a disconnect). Last wills (no client) are not counted. Then the topic ACL.
    authorizePublish(client, packet, done) {
      if (client && oversized.has(client.conn as Socket)) {
        divert(packet);
        return done(null);
      }
      if (client && !rate.take(client.id)) {
        refusals.refuse('publish_rate', client.id, { maxPublishRate: limits.maxPublishRate }, 'publish refused: client over its publish rate, dropped');
        divert(packet);
        return done(null);
      }
      access.authorizePublish(client, packet, done);
    },
    authorizeSubscribe: access.authorizeSubscribe,
    ...(forward ? { authorizeForward: (client: Client, packet: AedesPublishPacket) => (forward(packet.topic, client.id, packet.payload as Buffer) ? packet : null) } : {}),
  });
  broker.on('client', (client) => connected.set(client.id, client));
  broker.on('clientDisconnect', (client) => {
    if (connected.get(client.id) === client) {
      connected.delete(client.id);
      rate.forget(client.id);
    }
  });
  broker.on('clientError', (client, err) => log.debug({ clientId: client.id, err }, 'client error'));
  broker.on('connectionError', (client, err) => log.debug({ clientId: client?.id, err }, 'connection error'));

  // Every socket of both listeners (TLS: the raw TCP socket, from before the handshake), so
  // close() can drop those that never completed a CONNECT.
  const sockets = new Set<Socket>();
  const track = (socket: Socket): void => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  };
  const handle = (socket: Socket): void => {
    // Nagle adds ~40 ms to small frames; neither aedes nor Node turns it off (FACTS.md).
    socket.setNoDelay(true);
    track(socket);
    broker.handle(socket);
    // Packet size: checked on the header, before aedes buffers the body; the connection is closed.
    watchPacketSizes(socket, limits.maxPacketBytes, (packetBytes) => {
      refusals.refuse('packet_size', socketIds.get(socket), { packetBytes, maxPacketBytes: limits.maxPacketBytes }, 'packet refused: larger than the broker limit, connection closed');
      oversized.add(socket);
      socket.destroy();
    });
  };
  const servers: Server[] = [];
  const plainServer: Server | null = plain ? createServer(handle) : null;
  const tlsServer = options.tls
    ? createBrokerTlsServer(options.tls, handle, (r) => refusals.refuse('tls', undefined, { ...r }, 'TLS connection refused: handshake failed or client certificate not issued by the fabric CA', `${r.remote ?? ''}/${r.error}`), track)
    : null;

  const closeBroker = () => new Promise<void>((resolve) => broker.close(() => resolve()));
  let port = 0;
  let tlsPort: number | undefined;
  const tlsHost = options.tls?.host ?? '127.0.0.1';
  try {
    if (plainServer) (servers.push(plainServer), (port = await listen(plainServer, requestedPort, host)));
    if (tlsServer) (servers.push(tlsServer), (tlsPort = await listen(tlsServer, options.tls?.port ?? 8883, tlsHost)));
  } catch (err) {
    await Promise.all(servers.map((s) => new Promise<void>((resolve) => (s.listening ? s.close(() => resolve()) : resolve()))));
    await closeBroker();
    throw err;
  }
  for (const s of servers) s.on('error', (err) => log.error({ err }, 'broker listener error'));
  const hostPort = (h: string, p: number) => `${h.includes(':') ? `[${h}]` : h}:${p}`;
  const url = plainServer ? `mqtt://${hostPort(host, port)}` : '';
  const tlsUrl = tlsPort !== undefined ? `mqtts://${hostPort(tlsHost, tlsPort)}` : undefined;
  log.info({ url, tlsUrl, auth: options.auth !== undefined, enforceTopicAcl: options.auth !== undefined || options.enforceTopicAcl === true, limits }, 'embedded MQTT broker listening');

  let closing: Promise<void> | null = null;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      // Stop accepting first, then let aedes close its clients (publishing their wills), then
      // drop whatever socket is left (one that connected but never sent CONNECT).
      const serversClosed = Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
      await closeBroker();
      for (const socket of sockets) socket.destroy();
      await serversClosed;
      log.info({ url, tlsUrl }, 'embedded MQTT broker closed');
    })();
    return closing;
  };

  const disconnect = (clientId: string): boolean => {
    const client = connected.get(clientId);
    if (!client) return false;
    // conn.destroy(), not client.close(): aedes then publishes the will, as for a dropped link.
    client.conn.destroy();
    return true;
  };

  const disconnectIdentity = (id: string): number => {
    let n = 0;
    for (const client of [...connected.values()]) {
      // With auth every client of the identity carries its principal; without, match the ids.
      const identity = access.identityOf(client);
      if (identity === id || (!options.auth && identity.startsWith(`${id}.`))) {
        client.conn.destroy();
        n++;
      }
    }
    if (n > 0) log.warn({ identity: id, connections: n }, 'identity disconnected (revoked)');
    return n;
  };

  const on = (event: BrokerClientEvent, listener: (clientId: string) => void): (() => void) => {
    // aedes's typed overloads differ per event; all three report the client (after the packet for 'ping').
    const emitter = broker as unknown as NodeJS.EventEmitter;
    const handler = event === 'ping' ? (_packet: unknown, client: Client) => listener(client.id) : (client: Client) => listener(client.id);
    emitter.on(event, handler);
    return () => void emitter.removeListener(event, handler);
  };

  const stats = (): BrokerStats => ({ clients: connected.size, refused: { ...refusals.counts } });

  return { url, host, port, ...(tlsUrl ? { tlsUrl, tlsPort } : {}), disconnect, disconnectIdentity, on, stats, close };
}
