import type { Socket } from 'node:net';
import type { Logger } from '@tributary/shared';

/**
 * Resource limits of the embedded broker (issue 13, "Security"): what one misbehaving or hostile
 * client may cost the broker every other node depends on. Set through `startEmbeddedBroker`
 * (master config `brokerMaxPacketKb`, `brokerMaxPublishRate`, `brokerMaxConnections`); 0 turns a
 * limit off. The defaults are far above what the fabric itself sends (see each one), so only a
 * runaway or hostile client meets them.
 */
export interface BrokerLimits {
  /**
   * Largest MQTT packet accepted, bytes (fixed header + remaining length). A bigger packet is
   * refused as soon as its header arrives, before aedes buffers it: MQTT 3.1.1 has no per-publish
   * error, so the connection is closed (the client's last will fires). Default 32 MiB: twice the
   * largest frame the runtime encodes (`DEFAULT_FRAME_LIMITS.maxFrameBytes`, 16 MiB), leaving room
   * for the topic and for checkpoint reports carrying task state. MQTT's own ceiling is 256 MiB.
   */
  maxPacketBytes: number;
  /**
   * Sustained PUBLISH rate per client id, messages/s (a token bucket). A publish over it is
   * acknowledged and dropped (diverted like an ACL denial) rather than answered by a disconnect,
   * which would fire the client's will and make mqtt.js resend its QoS 1 backlog on reconnect.
   * Default 20 000/s: a node at full speed sends ~1000+ frames/s, an MQTT sink one message per
   * result; 20× headroom keeps the fabric clear of it while capping a flood. Measured on the
   * 2-core dev box: one mqtt.js QoS 1 client (100 in flight) pushes ~17-27k msg/s through aedes,
   * so only a client at the broker's full speed for seconds meets it; an MQTT sink meant to
   * publish more than 20k results/s through the embedded broker needs a higher setting.
   */
  maxPublishRate: number;
  /** Bucket size: publishes a client may send at once above the rate. Default 2 × maxPublishRate. */
  publishBurst: number;
  /**
   * Concurrent client connections. The next CONNECT is answered CONNACK 3 (server unavailable);
   * a client taking over its own id's session is always admitted. Default 20 000: a fleet's
   * agents each hold one connection to the master's broker (issue 14 places on 10 000); the real
   * ceiling is the process's file descriptors (`ulimit -n`). */
  maxConnections: number;
}

export const DEFAULT_BROKER_LIMITS: Readonly<BrokerLimits> = {
  maxPacketBytes: 32 * 1024 * 1024,
  maxPublishRate: 20_000,
  publishBurst: 40_000,
  maxConnections: 20_000,
};

/**
 * Why the broker refused something: label `reason` of `tributary_broker_refused_total`. The
 * limits: packet_size, publish_rate, connections. Authentication (issue 13): auth (CONNECT
 * refused: anonymous, bad credentials, unknown/revoked identity, client id not its own), tls (a
 * TLS handshake failed or a client certificate did not chain to the CA), acl_publish (a publish
 * dropped by the topic ACL), acl_subscribe (a subscription refused, SUBACK 0x80).
 */
export type RefusalReason = 'packet_size' | 'publish_rate' | 'connections' | 'auth' | 'tls' | 'acl_publish' | 'acl_subscribe';

export interface BrokerStats {
  /** Clients connected now. */
  clients: number;
  /** Refusals since the broker started, per reason. */
  refused: Record<RefusalReason, number>;
}

/** Resolves partial limits: unset fields take the defaults; the burst follows a set rate. */
export function resolveBrokerLimits(limits: Partial<BrokerLimits> = {}): BrokerLimits {
  const rate = limits.maxPublishRate ?? DEFAULT_BROKER_LIMITS.maxPublishRate;
  const out: BrokerLimits = {
    maxPacketBytes: limits.maxPacketBytes ?? DEFAULT_BROKER_LIMITS.maxPacketBytes,
    maxPublishRate: rate,
    publishBurst: limits.publishBurst ?? Math.max(1, 2 * rate),
    maxConnections: limits.maxConnections ?? DEFAULT_BROKER_LIMITS.maxConnections,
  };
  for (const [k, v] of Object.entries(out)) {
    if (!Number.isFinite(v) || v < 0) throw new RangeError(`broker limit ${k}: expected a number >= 0, got ${String(v)}`);
  }
  return out;
}

/**
 * Counts refusals and logs them, at most one warning per reason and key every `intervalMs` (a
 * flood must not turn into a log flood); the next warning says how many were not logged in
 * between. The key defaults to the reason; authentication and ACL refusals pass the identity and
 * topic, so each distinct denial is logged at least once per interval.
 */
export class RefusalLog {
  readonly counts: Record<RefusalReason, number> = {
    packet_size: 0, publish_rate: 0, connections: 0, auth: 0, tls: 0, acl_publish: 0, acl_subscribe: 0,
  };
  private readonly lastLogged = new Map<string, number>();
  private readonly suppressed = new Map<string, number>();

  constructor(private readonly log: Logger, private readonly intervalMs = 10_000, private readonly now = () => Date.now()) {}

  refuse(reason: RefusalReason, clientId: string | undefined, detail: Record<string, unknown>, msg: string, key?: string): void {
    this.counts[reason]++;
    const k = key === undefined ? reason : `${reason}\u0000${key}`;
    const t = this.now();
    const last = this.lastLogged.get(k);
    if (last !== undefined && t - last < this.intervalMs) {
      this.suppressed.set(k, (this.suppressed.get(k) ?? 0) + 1);
      return;
    }
    // Many distinct keys (a flood of made-up ids): forget the old ones rather than grow.
    if (this.lastLogged.size >= 10_000) {
      for (const [old, at] of this.lastLogged) if (t - at >= this.intervalMs) (this.lastLogged.delete(old), this.suppressed.delete(old));
      if (this.lastLogged.size >= 10_000) return; // counted, not logged: 10,000 distinct denials logged this interval
    }
    this.lastLogged.set(k, t);
    const suppressed = this.suppressed.get(k) ?? 0;
    this.suppressed.delete(k);
    this.log.warn({ clientId, reason, ...detail, ...(suppressed > 0 ? { suppressed } : {}) }, msg);
  }
}

/**
 * Per-client-id token buckets: `take(id)` is false when the client is over its rate. Called by the
 * broker's authorizePublish hook for every PUBLISH; `forget` when the client disconnects.
 */
export class PublishRateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(private readonly rate: number, private readonly burst: number, private readonly now = () => performance.now()) {}

  take(clientId: string): boolean {
    if (this.rate <= 0) return true;
    const t = this.now();
    let b = this.buckets.get(clientId);
    if (!b) {
      b = { tokens: this.burst, at: t };
      this.buckets.set(clientId, b);
    }
    b.tokens = Math.min(this.burst, b.tokens + ((t - b.at) / 1000) * this.rate);
    b.at = t;
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

  forget(clientId: string): void {
    this.buckets.delete(clientId);
  }
}

/**
 * Watches the bytes aedes reads from one socket and follows the MQTT packet boundaries (fixed
 * header byte, remaining length as a varint, body); `onOversize` is called, once, as soon as a
 * packet's header announces more than `maxBytes`, so the connection can be closed before the
 * body is buffered. Installed by the embedded broker right after `broker.handle(socket)`: aedes
 * reads on 'readable', so this 'data' listener sees each chunk as aedes reads it, without
 * changing the flow. A malformed length (over 4 bytes) stops the watch: aedes's parser rejects it.
 */
export function watchPacketSizes(socket: Socket, maxBytes: number, onOversize: (packetBytes: number) => void): void {
  if (maxBytes <= 0) return;
  let state: 'type' | 'length' | 'body' | 'off' = 'type';
  let length = 0;
  let multiplier = 1;
  let lengthBytes = 0;
  let bodyLeft = 0;
  const onData = (chunk: Buffer): void => {
    let i = 0;
    while (i < chunk.length && state !== 'off') {
      if (state === 'type') {
        i++;
        state = 'length';
        length = 0;
        multiplier = 1;
        lengthBytes = 0;
      } else if (state === 'length') {
        const b = chunk[i++];
        length += (b & 0x7f) * multiplier;
        multiplier *= 128;
        lengthBytes++;
        if (b & 0x80) {
          if (lengthBytes >= 4) state = 'off';
          continue;
        }
        const packetBytes = 1 + lengthBytes + length;
        if (packetBytes > maxBytes) {
          state = 'off';
          socket.removeListener('data', onData);
          onOversize(packetBytes);
          return;
        }
        bodyLeft = length;
        state = bodyLeft === 0 ? 'type' : 'body';
      } else {
        const n = Math.min(bodyLeft, chunk.length - i);
        i += n;
        bodyLeft -= n;
        if (bodyLeft === 0) state = 'type';
      }
    }
    if (state === 'off') socket.removeListener('data', onData);
  };
  socket.on('data', onData);
}
