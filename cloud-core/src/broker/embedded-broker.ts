import { Buffer } from 'node:buffer';
import { createServer, type Server, type Socket } from 'node:net';
import { Aedes, type AedesOptions, type AedesPublishPacket, type Client } from 'aedes';
import { canPublish, canSubscribe, createLogger, type AclPrincipal, type Logger } from '@tributary/shared';
import {
  PublishRateLimiter, RefusalLog, resolveBrokerLimits, watchPacketSizes, type BrokerLimits, type BrokerStats,
} from './broker-limits.js';
import { indexRetained } from './retained-index.js';

export interface EmbeddedBrokerOptions {
  /** Interface to listen on. Default loopback: the embedded broker is for one machine. */
  host?: string;
  /** TCP port; 0 picks an ephemeral one (read it back from `port`). Default 1883. */
  port?: number;
  /**
   * Enforce Tributary's per-node topic policy (topics.ts `ACL_RULES`, the same policy as the
   * generated Mosquitto ACL): a client publishes only under `trib/<its id>/` and subscribes only
   * to topics addressed to it; username `master` reads everything. Default false.
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
  /** `mqtt://host:port`, for `TransportOptions.url`. */
  readonly url: string;
  readonly host: string;
  readonly port: number;
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
 * Where a denied publish goes. MQTT 3.1.1 has no way to tell a publisher it was refused: Mosquitto
 * acknowledges and drops. aedes instead closes the connection when `authorizePublish` fails, which
 * fires the client's last will (a false "offline") and makes mqtt.js resend the stored QoS 1
 * packet on reconnect, forever. So a denied message is acknowledged and diverted here; the ACL
 * lets nobody subscribe to it and it is never retained.
 */
const DENIED_TOPIC = '$TRIB/denied';

/** Acknowledges and drops a denied publish (see DENIED_TOPIC). */
function divert(packet: Pick<AedesPublishPacket, 'topic' | 'retain' | 'payload'>): void {
  packet.topic = DENIED_TOPIC;
  packet.retain = false;
  packet.payload = Buffer.alloc(0);
}

/** Hooks enforcing the topic ACL; called by aedes for every PUBLISH (and last will) and SUBSCRIBE. */
function aclHooks(log: Logger): Pick<AedesOptions, 'authenticate' | 'authorizePublish' | 'authorizeSubscribe'> {
  // The username is only seen at CONNECT; remember it for the authorize hooks.
  const usernames = new WeakMap<Client, string>();
  const principal = (client: Client | null, fallbackId?: string): AclPrincipal => ({
    clientId: client?.id ?? fallbackId ?? '',
    username: client ? usernames.get(client) : undefined,
  });
  return {
    // No credentials are checked (like Mosquitto's `allow_anonymous true`): the ACL prevents
    // mistakes; preventing impersonation needs authentication in front of it.
    authenticate(client, username, _password, done) {
      if (username !== undefined) usernames.set(client, username);
      done(null, true);
    },
    authorizePublish(client, packet, done) {
      const who = principal(client, (packet as { clientId?: string }).clientId);
      if (canPublish(who, packet.topic)) return done(null);
      log.warn({ clientId: who.clientId, topic: packet.topic }, 'publish denied by topic ACL, dropped');
      divert(packet);
      done(null);
    },
    authorizeSubscribe(client, sub, done) {
      const who = principal(client);
      if (canSubscribe(who, sub.topic)) return done(null, sub);
      log.warn({ clientId: who.clientId, filter: sub.topic }, 'subscription denied by topic ACL');
      done(null, null); // SUBACK 0x80 for this filter
    },
  };
}

/**
 * Starts the default broker of a one-machine deployment: aedes over plain TCP. Called by the
 * master's composition root (and by tests); several masters or external clients at scale use an
 * external broker instead (DESIGN.md "Beyond one machine").
 */
export async function startEmbeddedBroker(options: EmbeddedBrokerOptions = {}): Promise<EmbeddedBroker> {
  const host = options.host ?? '127.0.0.1';
  const requestedPort = options.port ?? 1883;
  if (!Number.isInteger(requestedPort) || requestedPort < 0 || requestedPort > 65535) {
    throw new TypeError(`Invalid port ${String(options.port)}`);
  }
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
  const acl = options.enforceTopicAcl ? aclHooks(log) : undefined;
  const broker = await Aedes.createBroker({
    // No cap on deliveries in flight (aedes's default is 100): beyond the cap, mqemitter queues
    // messages and drains the queue by synchronous recursion, one stack frame chain per queued
    // message. With 10,000 light agents' hellos, statuses and heartbeats arriving faster than a
    // loaded master took them, the queue grew to thousands and draining it overflowed the stack
    // ("Maximum call stack size exceeded": the master died), after Array.shift() on that queue had
    // already taken 16 % of its CPU. Each client still waits for its own publish's delivery.
    concurrency: 0,
    ...(admit ? { preConnect: (_client: Client, packet: { clientId: string }, done: (err: Error | null, ok: boolean) => void) => done(null, admit(packet.clientId)) } : {}),
    ...acl,
    // Connection limit: refused with CONNACK 3 (server unavailable); a client replacing its own
    // session (same id) does not add a connection and is always admitted.
    authenticate(client, username, password, done) {
      socketIds.set(client.conn as Socket, client.id);
      if (limits.maxConnections > 0 && connected.size >= limits.maxConnections && !connected.has(client.id)) {
        refusals.refuse('connections', client.id, { maxConnections: limits.maxConnections }, 'connection refused: broker at its connection limit');
        return done(Object.assign(new Error('server unavailable'), { returnCode: 3 }) as Parameters<typeof done>[0], false);
      }
      if (acl?.authenticate) return acl.authenticate(client, username, password, done);
      done(null, true);
    },
    // Publish rate: over the client's bucket, acknowledged and dropped (BrokerLimits.maxPublishRate
    // says why not a disconnect). Last wills (no client) are not counted.
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
      if (acl?.authorizePublish) return acl.authorizePublish(client, packet, done);
      done(null);
    },
    ...(forward ? { authorizeForward: (client: Client, packet: AedesPublishPacket) => (forward(packet.topic, client.id, packet.payload as Buffer) ? packet : null) } : {}),
  });
  // SUBSCRIBE answered from an index of retained topics, not a pass over all of them (a fleet's registration was O(N²)).
  indexRetained((broker as unknown as { persistence: Parameters<typeof indexRetained>[0] }).persistence);
  broker.on('client', (client) => connected.set(client.id, client));
  broker.on('clientDisconnect', (client) => {
    if (connected.get(client.id) === client) {
      connected.delete(client.id);
      rate.forget(client.id);
    }
  });
  broker.on('clientError', (client, err) => log.debug({ clientId: client.id, err }, 'client error'));
  broker.on('connectionError', (client, err) => log.debug({ clientId: client?.id, err }, 'connection error'));

  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    // Nagle adds ~40 ms to small frames; neither aedes nor Node turns it off (FACTS.md).
    socket.setNoDelay(true);
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    broker.handle(socket);
    // Packet size: checked on the header, before aedes buffers the body; the connection is closed.
    watchPacketSizes(socket, limits.maxPacketBytes, (packetBytes) => {
      refusals.refuse('packet_size', socketIds.get(socket), { packetBytes, maxPacketBytes: limits.maxPacketBytes }, 'packet refused: larger than the broker limit, connection closed');
      oversized.add(socket);
      socket.destroy();
    });
  });

  const closeBroker = () => new Promise<void>((resolve) => broker.close(() => resolve()));
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(requestedPort, host, () => {
        server.removeListener('error', reject);
        resolve();
      });
    });
  } catch (err) {
    await closeBroker();
    throw err;
  }
  server.on('error', (err) => log.error({ err }, 'broker listener error'));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : requestedPort;
  const url = `mqtt://${host.includes(':') ? `[${host}]` : host}:${port}`;
  log.info({ url, enforceTopicAcl: options.enforceTopicAcl === true, limits }, 'embedded MQTT broker listening');

  let closing: Promise<void> | null = null;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      // Stop accepting first, then let aedes close its clients (publishing their wills), then
      // drop whatever socket is left (one that connected but never sent CONNECT).
      const serverClosed = new Promise<void>((resolve) => server.close(() => resolve()));
      await closeBroker();
      for (const socket of sockets) socket.destroy();
      await serverClosed;
      log.info({ url }, 'embedded MQTT broker closed');
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

  const on = (event: BrokerClientEvent, listener: (clientId: string) => void): (() => void) => {
    // aedes's typed overloads differ per event; all three report the client (after the packet for 'ping').
    const emitter = broker as unknown as NodeJS.EventEmitter;
    const handler = event === 'ping' ? (_packet: unknown, client: Client) => listener(client.id) : (client: Client) => listener(client.id);
    emitter.on(event, handler);
    return () => void emitter.removeListener(event, handler);
  };

  const stats = (): BrokerStats => ({ clients: connected.size, refused: { ...refusals.counts } });

  return { url, host, port, disconnect, on, stats, close };
}
