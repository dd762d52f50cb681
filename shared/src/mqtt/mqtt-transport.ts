import type { MqttClient } from 'mqtt';
import { ErrorCodes, TributaryError, isTributaryError } from '../api/errors.js';
import { createLogger, type Logger } from '../log/log.js';
import { assertValidId } from '../wire/topics.js';
import { createMqttClient, endMqttClient, firstConnack, toBuffer, type MqttClientOptions } from './mqtt-client.js';
import type {
  MessageHandler,
  PublishOptions,
  QoS,
  Transport,
  TransportOptions,
  TransportStatus,
} from '../wire/transport.js';

/** Defaults, merged with the caller's options once in the constructor. */
const DEFAULTS = {
  // Short so a dead node is noticed fast: the broker fires the last will after 1.5 × keepalive
  // without traffic, i.e. 7.5 s. Costs one PINGREQ per 5 s per idle client.
  keepaliveSeconds: 5,
  // Fast enough to come back within a heartbeat period after a broker restart, slow enough not
  // to hammer a broker that is starting up with a fleet's worth of CONNECTs.
  reconnectMs: 1000,
  cleanSession: true,
  connectTimeoutMs: 10_000,
  closeTimeoutMs: 5_000,
};

type Waiter = { resolve: () => void; reject: (err: Error) => void };

function filterList(filters: string | string[]): string[] {
  const list = typeof filters === 'string' ? [filters] : filters;
  if (!Array.isArray(list) || list.length === 0) throw new TypeError('filters must be a non-empty string or array');
  for (const f of list) if (typeof f !== 'string' || f.length === 0) throw new TypeError(`Invalid topic filter ${JSON.stringify(f)}`);
  return list;
}

/** A refusal of some filters by the broker (SUBACK 0x80), as opposed to a lost connection. */
function refused(filters: string[]): TributaryError {
  return new TributaryError(ErrorCodes.SUBSCRIBE_REFUSED, `broker refused subscription to ${filters.join(', ')}`);
}

/**
 * `Transport` over MQTT 3.1.1 with mqtt.js 5. The transport, not mqtt.js, restores
 * subscriptions after a reconnect, so that `connected` means "subscribed again" and a filter is
 * never subscribed twice (a second SUBSCRIBE would replay retained messages).
 */
export class MqttTransport implements Transport {
  readonly clientId: string;
  readonly #opts: TransportOptions & typeof DEFAULTS;
  /** How the client layer (mqtt-client.ts) connects this transport. */
  readonly #clientOpts: MqttClientOptions;
  readonly #client: MqttClient;
  readonly #log: Logger;
  #status: TransportStatus = 'offline';
  #closing: Promise<void> | null = null;
  /** Bumped on every connect and disconnect, so a stale resubscribe round does not report. */
  #generation = 0;
  /** What the transport is subscribed to, restored on every reconnect. */
  readonly #subs = new Map<string, QoS>();
  /** Filters the broker has granted on the current session. */
  readonly #confirmed = new Set<string>();
  /** Filters the broker refused while restoring them; reported to subscribe() calls waiting. */
  readonly #refusedOnRestore = new Set<string>();
  readonly #messageHandlers = new Set<MessageHandler>();
  readonly #statusHandlers = new Set<(status: TransportStatus) => void>();
  readonly #connectedWaiters = new Set<Waiter>();
  /** Rejecters of publishes not yet acknowledged (QoS 1) or written (QoS 0). */
  readonly #pending = new Set<(err: Error) => void>();
  #drained: (() => void) | null = null;

  /** Starts connecting at once; prefer `connectMqttTransport`, which awaits the connection. */
  constructor(options: TransportOptions) {
    if (typeof options?.url !== 'string' || options.url.length === 0) throw new TypeError('url must be a non-empty string');
    assertValidId(options.clientId, 'client id');
    this.#opts = { ...DEFAULTS, ...stripUndefined(options) };
    this.clientId = options.clientId;
    this.#log = (options.log ?? createLogger()).child({ component: 'transport', clientId: this.clientId });
    this.#clientOpts = {
      url: this.#opts.url,
      clientId: this.clientId,
      username: this.#opts.username,
      password: this.#opts.password,
      tls: this.#opts.tls,
      keepaliveSeconds: this.#opts.keepaliveSeconds,
      reconnectMs: this.#opts.reconnectMs,
      connectTimeoutMs: this.#opts.connectTimeoutMs,
      clean: this.#opts.cleanSession,
      resubscribe: false, // done by #onConnect
      will: this.#opts.will,
      // A node or the master may start before its broker: retry until connectTimeoutMs.
      failFast: false,
      what: `transport ${this.clientId}`,
      log: this.#log,
    };
    this.#client = createMqttClient(this.#clientOpts);
    this.#client.on('connect', (connack) => void this.#onConnect(connack.sessionPresent === true));
    this.#client.on('close', () => {
      this.#generation++;
      if (this.#status === 'connected') this.#setStatus('offline');
    });
    this.#client.on('reconnect', () => this.#setStatus('reconnecting'));
    let everConnected = false;
    this.#client.on('connect', () => (everConnected = true));
    // CONNACK 2 (identifier rejected), 4 (bad credentials), 5 (not authorized): who we are was
    // refused, not the moment (3, server unavailable, is retried quietly). firstConnack reports
    // the first connection's refusal; later ones go to onRefused.
    this.#client.on('error', (err: Error & { code?: unknown }) => {
      if (everConnected && !this.#closing && (err.code === 2 || err.code === 4 || err.code === 5)) this.#opts.onRefused?.(err);
    });
    this.#client.on('message', (topic, payload) => {
      for (const handler of [...this.#messageHandlers]) {
        try {
          handler(topic, payload);
        } catch (err) {
          this.#log.error({ err, topic }, 'message handler threw');
        }
      }
    });
  }

  /** Connects, resolving once connected (first CONNACK, subscriptions in place); see `connectMqttTransport`. */
  static async connect(options: TransportOptions): Promise<MqttTransport> {
    const transport = new MqttTransport(options);
    try {
      await Promise.all([firstConnack(transport.#client, transport.#clientOpts), transport.#untilConnected()]);
    } catch (err) {
      await transport.close({ force: true });
      throw err;
    }
    return transport;
  }

  /**
   * New credentials for the next connections (the current one keeps its own): after a certificate
   * renewal. mqtt.js builds every reconnect's socket and CONNECT from its `options` object.
   */
  setCredentials(c: Pick<TransportOptions, 'tls' | 'username' | 'password'>): void {
    const options = this.#client.options as Record<string, unknown>;
    for (const k of ['ca', 'cert', 'key'] as const) if (c.tls?.[k] !== undefined) options[k] = c.tls[k];
    if (c.username !== undefined) options.username = c.username;
    if (c.password !== undefined) options.password = c.password;
  }

  get connected(): boolean {
    return this.#status === 'connected';
  }

  publish(topic: string, payload: Uint8Array | string, opts: PublishOptions = {}): Promise<void> {
    if (typeof topic !== 'string' || topic.length === 0 || /[+#]/.test(topic)) {
      return Promise.reject(new TypeError(`Invalid topic ${JSON.stringify(topic)}`));
    }
    if (this.#closing) return Promise.reject(this.#closedError());
    return new Promise((resolve, reject) => {
      const fail = (err: Error) => reject(err);
      this.#pending.add(fail);
      const done = (err?: Error) => {
        if (!this.#pending.delete(fail)) return; // already rejected by close()
        if (this.#pending.size === 0) this.#drained?.();
        if (err) reject(this.#closing ? this.#closedError(err) : err);
        else resolve();
      };
      this.#client.publish(topic, toBuffer(payload), { qos: opts.qos ?? 0, retain: opts.retain ?? false }, done);
    });
  }

  async subscribe(filters: string | string[], qos: QoS = 1): Promise<void> {
    const list = filterList(filters);
    if (this.#closing) throw this.#closedError();
    for (const f of list) {
      this.#subs.set(f, qos);
      this.#refusedOnRestore.delete(f);
    }
    if (this.#status === 'connected' && this.#client.connected) {
      try {
        return await this.#sendSubscribe(list, qos);
      } catch (err) {
        if (isTributaryError(err) && err.code === ErrorCodes.SUBSCRIBE_REFUSED) throw err;
        // The connection dropped mid-way: the filters are restored by the next reconnect.
      }
    }
    await this.#untilConnected();
    const refusedNow = list.filter((f) => this.#refusedOnRestore.has(f));
    if (refusedNow.length > 0) throw refused(refusedNow);
  }

  async unsubscribe(filters: string | string[]): Promise<void> {
    const list = filterList(filters);
    if (this.#closing) throw this.#closedError();
    for (const f of list) {
      this.#subs.delete(f);
      this.#confirmed.delete(f);
    }
    // Offline with a clean session the broker has forgotten them already; otherwise mqtt.js
    // queues the UNSUBSCRIBE for the next connection.
    if (!this.#client.connected && this.#opts.cleanSession) return;
    const pending = this.#client.unsubscribeAsync(list);
    if (this.#client.connected) await pending.catch((err) => this.#log.debug({ err }, 'unsubscribe interrupted'));
    else pending.catch(() => {});
  }

  onMessage(handler: MessageHandler): () => void {
    this.#messageHandlers.add(handler);
    return () => void this.#messageHandlers.delete(handler);
  }

  onStatus(handler: (status: TransportStatus) => void): () => void {
    this.#statusHandlers.add(handler);
    return () => void this.#statusHandlers.delete(handler);
  }

  close(opts: { force?: boolean } = {}): Promise<void> {
    this.#closing ??= this.#close(opts.force === true);
    return this.#closing;
  }

  async #close(force: boolean): Promise<void> {
    // Graceful: let pending publishes be acknowledged (through reconnects, if need be), bounded.
    if (!force && this.#pending.size > 0) {
      const drained = new Promise<void>((resolve) => (this.#drained = resolve));
      if (!(await withTimeout(drained, this.#opts.closeTimeoutMs))) {
        this.#log.warn({ pending: this.#pending.size }, 'close: pending publishes not acknowledged in time, forcing');
        force = true;
      }
    }
    // Forced: destroy the socket without DISCONNECT, so the broker publishes the last will.
    await endMqttClient(this.#client, { force, timeoutMs: this.#opts.closeTimeoutMs, log: this.#log });
    this.#generation++;
    const err = this.#closedError();
    for (const fail of this.#pending) fail(err);
    this.#pending.clear();
    for (const w of this.#connectedWaiters) w.reject(err);
    this.#connectedWaiters.clear();
    this.#setStatus('offline');
    this.#client.removeAllListeners('message');
    this.#messageHandlers.clear();
    this.#statusHandlers.clear();
  }

  /** After every CONNACK: birth message, restore subscriptions, then report `connected`. */
  async #onConnect(sessionPresent: boolean): Promise<void> {
    const generation = ++this.#generation;
    if (this.#closing) return;
    const birth = this.#opts.birth;
    if (birth) {
      this.publish(birth.topic, birth.payload, { qos: birth.qos ?? 1, retain: birth.retain ?? false }).catch((err) =>
        this.#log.warn({ err }, 'birth message not published'),
      );
    }
    if (!sessionPresent) this.#confirmed.clear();
    // Loop: subscribe() calls made while this round is in flight add filters to restore too.
    for (;;) {
      const byQos = new Map<QoS, string[]>();
      for (const [filter, qos] of this.#subs) {
        if (!this.#confirmed.has(filter)) byQos.set(qos, [...(byQos.get(qos) ?? []), filter]);
      }
      if (byQos.size === 0) break;
      const results = await Promise.allSettled([...byQos].map(([qos, list]) => this.#sendSubscribe(list, qos)));
      if (generation !== this.#generation) return; // the connection dropped again
      for (const r of results) {
        if (r.status === 'fulfilled') continue;
        if (!isTributaryError(r.reason) || r.reason.code !== ErrorCodes.SUBSCRIBE_REFUSED) return;
        this.#log.error({ err: r.reason }, 'broker refused to restore subscriptions');
      }
    }
    if (generation !== this.#generation || this.#closing) return;
    this.#setStatus('connected');
    for (const w of this.#connectedWaiters) w.resolve();
    this.#connectedWaiters.clear();
  }

  /** SUBSCRIBE on the live connection; refused filters are dropped and reported. */
  #sendSubscribe(list: string[], qos: QoS): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#client.subscribe(list, { qos }, (err, _grants, packet) => {
        if (!err) {
          for (const f of list) if (this.#subs.has(f)) this.#confirmed.add(f);
          return resolve();
        }
        const granted = (packet as { granted?: number[] } | undefined)?.granted;
        if (!granted) return reject(err); // not an answer from the broker: connection lost
        const refusedList = granted.length === list.length ? list.filter((_, i) => (granted[i] & 0x80) !== 0) : list;
        for (const f of list) {
          if (!refusedList.includes(f)) {
            if (this.#subs.has(f)) this.#confirmed.add(f);
            continue;
          }
          this.#subs.delete(f);
          this.#refusedOnRestore.add(f);
        }
        reject(refused(refusedList));
      });
    });
  }

  #untilConnected(): Promise<void> {
    if (this.#closing) return Promise.reject(this.#closedError());
    return new Promise((resolve, reject) => this.#connectedWaiters.add({ resolve, reject }));
  }

  #setStatus(status: TransportStatus): void {
    if (this.#status === status) return;
    this.#status = status;
    this.#log.debug({ status }, 'transport status');
    for (const handler of [...this.#statusHandlers]) {
      try {
        handler(status);
      } catch (err) {
        this.#log.error({ err }, 'status handler threw');
      }
    }
  }

  #closedError(cause?: Error): TributaryError {
    return new TributaryError(ErrorCodes.TRANSPORT_CLOSED, `transport ${this.clientId} is closed`, { cause });
  }
}

/**
 * Creates an MQTT transport and resolves once it is connected. Rejects with
 * TRIB_ERR_BROKER_UNREACHABLE when no broker answers within `connectTimeoutMs`, or with
 * TRIB_ERR_BROKER_REFUSED when the broker refuses the connection; nothing is left running then.
 */
export function connectMqttTransport(options: TransportOptions): Promise<MqttTransport> {
  return MqttTransport.connect(options);
}

/** Whether `promise` settled within `ms`. */
async function withTimeout(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => (timer = setTimeout(resolve, ms, false)));
  try {
    return await Promise.race([promise.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function stripUndefined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}
