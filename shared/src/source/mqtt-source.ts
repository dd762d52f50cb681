import { randomBytes } from 'node:crypto';
import { connect, type IClientOptions, type IPublishPacket, type MqttClient, type Packet } from 'mqtt';
import { cborDecoder } from '../codec/cbor.js';
import { ErrorCodes, TributaryError, type ErrorCode } from '../errors.js';
import type { Logger } from '../log.js';
import type { Message } from '../message.js';
import { isEventTime } from '../message.js';
import type { Source, SourceContext, SourceSpec } from './source.js';

/** Payload encoding of an external MQTT topic. */
export type MqttPayloadFormat = 'json' | 'cbor';

export interface MqttSourceOptions<T> {
  /** Broker URL, e.g. `mqtt://127.0.0.1:1883` (MQTT 3.1.1; `mqtts://`, `ws://` work too). */
  url: string;
  /** Topic filters to subscribe to, wildcards allowed (`sensors/+`, `plant/#`). */
  topics: string | string[];
  /** How payloads are decoded (default `json`). A payload that does not decode is rejected. */
  format?: MqttPayloadFormat;
  /**
   * Where each record's event time comes from, as in `jsonLinesSource`: a field name (default
   * `ts`), a function of the decoded record and its topic, or `'ingest'` for the time the message
   * arrived. A record without a valid integer timestamp is rejected (counted and logged).
   */
  timestamp?: string | ((record: T, topic: string) => unknown) | 'ingest';
  /** How far behind the newest record a record may arrive and still be on time (default 0). */
  maxDelayMs?: number;
  /** Returns why a decoded record is unacceptable (it is then rejected), or undefined if it is fine. */
  validate?: (record: T, topic: string) => string | undefined;
  /**
   * Also write the topic into each record under this field name (object records only), so that
   * map/filter/keyBy functions can use it, e.g. `topicField: 'topic'` then `keyBy((r) => r.topic)`.
   * The topic is always the message `key` as well (see `mqttSource`).
   */
  topicField?: string;
  /** Subscription QoS (default 1). */
  qos?: 0 | 1;
  /** MQTT client id (default `trib-src-<random>`). Required with `clean: false`. */
  clientId?: string;
  /**
   * MQTT clean session (default true). With `false` and a fixed `clientId` the broker keeps the
   * subscription and queues QoS 1 messages while the source is disconnected or stopped, and
   * redelivers the unacknowledged ones (at-least-once across reconnects and restarts).
   */
  clean?: boolean;
  /** End after this many accepted records: the source becomes bounded (tests, demos). */
  count?: number;
  /**
   * Most accepted records held in memory waiting for read() (default 10,000). At that point the
   * client stops reading its socket until the buffer is down to half, see `mqttSource`.
   */
  maxBuffered?: number;
  /**
   * With nothing buffered, read() returns an empty batch after this long (default 1000 ms), so
   * the runtime gets the chance to notice a stop request on an idle source.
   */
  maxWaitMs?: number;
  /** Bound on the first connection and SUBACK in open() (default 10,000 ms). */
  connectTimeoutMs?: number;
  /** MQTT keepalive (default 30 s). */
  keepaliveSeconds?: number;
}

/** What a running MQTT source reports about its buffer, for tests and diagnostics. */
export interface MqttSourceStats {
  /** Accepted records waiting for read(). */
  buffered: number;
  /** The most records ever buffered at once (never above the `maxBuffered` option). */
  peakBuffered: number;
  /** Accepted records so far. */
  accepted: number;
  /** Times the source stopped reading the connection because its buffer was full. */
  pauses: number;
  /** Whether it is stopped right now. */
  paused: boolean;
}

const DEFAULT_MAX_BUFFERED = 10_000;
const DEFAULT_MAX_WAIT_MS = 1000;
const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
const DEFAULT_KEEPALIVE_SECONDS = 30;
const DEFAULT_RECONNECT_MS = 1000;

/**
 * Subscribes to external MQTT topics, so that third-party devices publishing with any MQTT client
 * plug into an application. Each PUBLISH becomes one record:
 *
 * - `value`: the decoded payload, untouched (plus the topic under `topicField`, if given);
 * - `key`: the topic the message was published to. Map and filter carry it along, `keyBy`
 *   replaces it, so it costs nothing to ignore; a sink's `write()` sees it. User functions see
 *   values only, so use `topicField` (or the `timestamp`/`validate` functions, which get the
 *   topic) to act on the topic in the pipeline;
 * - `ts`: from the `timestamp` option.
 *
 * A payload that does not decode, fails `validate` (or makes it throw), or has no valid integer
 * timestamp is rejected through `ctx.reject` (counted in `rejected`, logged rate-limited); the
 * source goes on. Retained messages are delivered like any other on subscribe.
 *
 * Back-pressure: accepted records wait in a buffer for read(), at most `maxBuffered` of them. A
 * message that arrives when the buffer is full is held undecoded in mqtt.js's `handleMessage`
 * hook; until the source lets it go, mqtt.js processes no further packet, its socket pipe stops
 * reading, and TCP flow control makes the broker stop sending (aedes in turn stops acknowledging
 * the publishers). It is let go, and reading resumes, when read() has brought the buffer down to
 * half. (Pausing `client.stream` does not work: mqtt.js pipes the socket, and the pipe resumes it
 * on its next 'drain'.) Memory is bounded by `maxBuffered` records plus what mqtt.js has parsed
 * of one socket read and the stream buffers (tens of KB).
 *
 * QoS 1: a message is acknowledged (PUBACK) only once it is in the buffer, so a held message is
 * not acknowledged until the source resumes. Acknowledged means in memory, not processed: the
 * records still buffered when the source is stopped, or the process dies, are lost. While paused
 * the source sends PINGREQs itself: mqtt.js cannot read the PINGRESPs then and would otherwise
 * drop the connection after 1.5 × keepalive, losing what the broker had in flight.
 *
 * QoS 1 and reconnects: the client reconnects on its own (every second). With the default clean
 * session, messages published while it is disconnected are lost, and so are those the broker had
 * sent but not yet seen acknowledged; with `clean: false` the broker keeps them and redelivers
 * (duplicates possible). At QoS 0 a paused subscriber may make the broker drop messages.
 *
 * One task only (`maxParallelism` 1): MQTT 3.1.1 (and aedes) has no shared subscriptions, so a
 * second task would receive every message again. open() resolves once the broker granted every
 * filter (SUBACK); a broker it cannot reach or a refused filter fails with TRIB_ERR_SOURCE_FAILED.
 */
export function mqttSource<T = Record<string, unknown>>(options: MqttSourceOptions<T>): SourceSpec<T> {
  const o = checkSourceOptions(options);
  return {
    kind: 'source',
    name: `mqtt(${o.topics.join(',')})`,
    watermark: { maxDelayMs: o.maxDelayMs },
    maxParallelism: 1,
    create: () => new MqttSource<T>(o),
  };
}

interface ResolvedSourceOptions<T> {
  url: string;
  topics: string[];
  format: MqttPayloadFormat;
  timestamp: NonNullable<MqttSourceOptions<T>['timestamp']>;
  maxDelayMs: number;
  validate?: (record: T, topic: string) => string | undefined;
  topicField?: string;
  qos: 0 | 1;
  clientId?: string;
  clean: boolean;
  count?: number;
  maxBuffered: number;
  maxWaitMs: number;
  connectTimeoutMs: number;
  keepaliveSeconds: number;
}

function checkSourceOptions<T>(options: MqttSourceOptions<T>): ResolvedSourceOptions<T> {
  const where = 'mqttSource(options)';
  if (typeof options !== 'object' || options === null) throw new TypeError(`${where}: options must be an object`);
  checkUrl(options.url, where);
  const topics = typeof options.topics === 'string' ? [options.topics] : options.topics;
  if (!Array.isArray(topics) || topics.length === 0) throw new TypeError(`${where}: topics must be a non-empty string or array of strings`);
  for (const t of topics) {
    if (!isValidFilter(t)) throw new TypeError(`${where}: invalid topic filter ${JSON.stringify(t)}`);
  }
  const format = checkFormat(options.format, where);
  const timestamp = options.timestamp ?? 'ts';
  if (typeof timestamp !== 'function' && (typeof timestamp !== 'string' || timestamp.length === 0)) {
    throw new TypeError(`${where}: timestamp must be a field name, a function or 'ingest'`);
  }
  const maxDelayMs = options.maxDelayMs ?? 0;
  if (!Number.isFinite(maxDelayMs) || maxDelayMs < 0) throw new TypeError(`${where}: maxDelayMs must be a finite number >= 0`);
  if (options.validate !== undefined && typeof options.validate !== 'function') throw new TypeError(`${where}: validate must be a function`);
  if (options.topicField !== undefined && (typeof options.topicField !== 'string' || options.topicField.length === 0)) {
    throw new TypeError(`${where}: topicField must be a non-empty string`);
  }
  const qos = checkQos(options.qos, where);
  const clientId = checkClientId(options.clientId, where);
  const clean = options.clean ?? true;
  if (typeof clean !== 'boolean') throw new TypeError(`${where}: clean must be a boolean`);
  if (!clean && clientId === undefined) throw new TypeError(`${where}: clean: false needs a fixed clientId (the broker keeps the session under it)`);
  if (options.count !== undefined && !(Number.isSafeInteger(options.count) && options.count >= 0)) {
    throw new TypeError(`${where}: count must be an integer >= 0`);
  }
  const maxBuffered = positiveInt(options.maxBuffered, DEFAULT_MAX_BUFFERED, 'maxBuffered', where);
  const maxWaitMs = positiveInt(options.maxWaitMs, DEFAULT_MAX_WAIT_MS, 'maxWaitMs', where);
  const connectTimeoutMs = positiveInt(options.connectTimeoutMs, DEFAULT_CONNECT_TIMEOUT_MS, 'connectTimeoutMs', where);
  const keepaliveSeconds = positiveInt(options.keepaliveSeconds, DEFAULT_KEEPALIVE_SECONDS, 'keepaliveSeconds', where);
  return {
    url: options.url, topics, format, timestamp, maxDelayMs, validate: options.validate, topicField: options.topicField,
    qos, clientId, clean, count: options.count, maxBuffered, maxWaitMs, connectTimeoutMs, keepaliveSeconds,
  };
}

type Decode = (payload: Buffer) => unknown;
const decoders: Record<MqttPayloadFormat, Decode> = {
  json: (payload) => JSON.parse(payload.toString('utf8')),
  cbor: (payload) => cborDecoder.decode(payload),
};

/** One task of `mqttSource`. Exported for its `stats()`; create it through `mqttSource`. */
export class MqttSource<T> implements Source<T> {
  private client: MqttClient | null = null;
  private ctx!: SourceContext;
  private readonly clientId: string;
  private readonly decode: Decode;
  private readonly tsOf: (record: T, topic: string, now: number) => unknown;
  /** Accepted records in arrival order; `head` is the next to read (compacted on read). */
  private buffer: Message<T>[] = [];
  private head = 0;
  private accepted = 0;
  private highWater = 0;
  private pauses = 0;
  /** Messages that found the buffer full; until resumed, mqtt.js processes no further packet. */
  private held: Array<() => void> = [];
  private pingTimer: NodeJS.Timeout | null = null;
  private wake: (() => void) | null = null;
  private closed = false;

  constructor(private readonly o: ResolvedSourceOptions<T>) {
    this.clientId = o.clientId ?? `trib-src-${randomBytes(6).toString('hex')}`;
    this.decode = decoders[o.format];
    const spec = o.timestamp;
    if (typeof spec === 'function') this.tsOf = (r, topic) => spec(r, topic);
    else if (spec === 'ingest') this.tsOf = (_r, _t, now) => now;
    else this.tsOf = (r) => (r !== null && typeof r === 'object' ? (r as Record<string, unknown>)[spec] : undefined);
  }

  async open(ctx: SourceContext): Promise<void> {
    this.ctx = ctx;
    const { url, topics, qos } = this.o;
    const client = await connectMqttClient({
      url,
      clientId: this.clientId,
      clean: this.o.clean,
      keepaliveSeconds: this.o.keepaliveSeconds,
      connectTimeoutMs: this.o.connectTimeoutMs,
      errorCode: ErrorCodes.SOURCE_FAILED,
      what: `mqtt source ${this.clientId}`,
      log: ctx.log,
    });
    this.client = client;
    // Every PUBLISH passes here before mqtt.js acknowledges it and parses the next packet.
    client.handleMessage = (packet, done) => this.onPublish(packet, done);
    client.on('close', () => {
      // Held messages belong to the lost connection: never acknowledged, so with clean: false
      // the broker sends them again on the next one (with a clean session they are gone anyway).
      // Acknowledging them later would send stale packet ids on the new connection.
      this.stopPinging();
      this.held = [];
    });
    try {
      const grants = await withTimeout(client.subscribeAsync(topics, { qos }), this.o.connectTimeoutMs, `no SUBACK within ${this.o.connectTimeoutMs} ms`);
      const refused = grants.filter((g) => (g.qos & 0x80) !== 0).map((g) => g.topic);
      if (refused.length > 0) throw new Error(`the broker refused the subscription to ${refused.join(', ')}`);
    } catch (cause) {
      await this.close();
      throw new TributaryError(ErrorCodes.SOURCE_FAILED, `mqtt source: cannot subscribe to ${topics.join(', ')} at ${url}: ${(cause as Error).message}`, { cause });
    }
  }

  async read(max: number): Promise<Message<T>[] | null> {
    if (this.available() === 0) {
      if (this.ended()) return null;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          this.wake = null;
          resolve();
        }, this.o.maxWaitMs);
        this.wake = () => {
          clearTimeout(timer);
          this.wake = null;
          resolve();
        };
      });
      if (this.available() === 0) return this.ended() ? null : [];
    }
    const end = Math.min(this.buffer.length, this.head + Math.max(1, max));
    const out = this.buffer.slice(this.head, end);
    this.head = end;
    if (this.head === this.buffer.length) {
      this.buffer = [];
      this.head = 0;
    } else if (this.head >= 1024 && this.head * 2 >= this.buffer.length) {
      this.buffer = this.buffer.slice(this.head);
      this.head = 0;
    }
    if (this.held.length > 0 && this.available() <= this.o.maxBuffered / 2) this.releaseHeld();
    return out;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.stopPinging();
    this.wake?.();
    const client = this.client;
    this.client = null;
    // Held messages stay unacknowledged: with clean: false the broker redelivers them.
    this.held = [];
    const dropped = this.available();
    if (dropped > 0) this.ctx?.log.info({ dropped }, 'mqtt source closed with records still buffered; they are dropped');
    this.buffer = [];
    this.head = 0;
    if (client) await endMqttClient(client, this.ctx?.log);
  }

  stats(): MqttSourceStats {
    return { buffered: this.available(), peakBuffered: this.highWater, accepted: this.accepted, pauses: this.pauses, paused: this.held.length > 0 };
  }

  private available(): number {
    return this.buffer.length - this.head;
  }

  private ended(): boolean {
    return this.closed || (this.o.count !== undefined && this.accepted >= this.o.count);
  }

  /**
   * mqtt.js calls this for every PUBLISH and processes no further packet (nor sends the PUBACK)
   * until `done` is called. A message that finds the buffer full is held there, undecoded.
   */
  private onPublish(packet: IPublishPacket, done: () => void): void {
    if (this.available() >= this.o.maxBuffered && !this.closed && !this.ended()) {
      return this.hold(() => {
        this.accept(packet);
        done();
      });
    }
    this.accept(packet);
    done();
  }

  private accept(packet: IPublishPacket): void {
    if (this.closed || this.ended()) return; // past `count`: acknowledged and ignored
    const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload;
    const msg = this.toMessage(packet.topic, payload);
    if (!msg) return;
    this.buffer.push(msg);
    this.accepted++;
    const n = this.available();
    if (n > this.highWater) this.highWater = n;
    this.wake?.();
  }

  private toMessage(topic: string, payload: Buffer): Message<T> | null {
    const now = Date.now();
    if (payload.length === 0) {
      this.ctx.reject(`${topic}: empty payload`);
      return null;
    }
    let record: T;
    try {
      record = this.decode(payload) as T;
    } catch (err) {
      this.ctx.reject(`${topic}: malformed ${this.o.format.toUpperCase()} payload`, (err as Error).message);
      return null;
    }
    let ts: unknown;
    try {
      const invalid = this.o.validate?.(record, topic);
      if (invalid !== undefined) {
        this.ctx.reject(`${topic}: ${invalid}`);
        return null;
      }
      ts = this.tsOf(record, topic, now);
    } catch (err) {
      this.ctx.reject(`${topic}: validate or timestamp function threw`, (err as Error)?.message ?? String(err));
      return null;
    }
    if (!isEventTime(ts)) {
      this.ctx.reject(`${topic}: no valid integer timestamp`, ts);
      return null;
    }
    if (this.o.topicField !== undefined && record !== null && typeof record === 'object' && !Array.isArray(record)) {
      (record as Record<string, unknown>)[this.o.topicField] = topic;
    }
    return { ts, key: topic, value: record };
  }

  /** Keeps mqtt.js from processing further packets until the buffer has room again. */
  private hold(resume: () => void): void {
    if (this.held.length === 0) this.pauses++;
    this.held.push(resume);
    this.startPinging();
  }

  private releaseHeld(): void {
    this.stopPinging();
    const held = this.held;
    this.held = [];
    for (const resume of held) resume();
  }

  /**
   * While packet processing is held, mqtt.js cannot see PINGRESPs and would drop the connection
   * after 1.5 × keepalive ("Keepalive timeout"), losing what the broker had in flight. So the
   * source pings the broker itself (the broker stays content) and resets mqtt.js's keepalive
   * clock. A connection that really dies meanwhile is still noticed: by TCP, or by the keepalive
   * once processing resumes.
   */
  private startPinging(): void {
    if (this.pingTimer) return;
    const everyMs = Math.max(100, (this.o.keepaliveSeconds * 1000) / 2);
    this.pingTimer = setInterval(() => {
      const client = this.client;
      if (!client?.connected) return;
      client.sendPing();
      client.reschedulePing(true);
    }, everyMs);
    this.pingTimer.unref();
  }

  private stopPinging(): void {
    if (this.pingTimer) clearInterval(this.pingTimer);
    this.pingTimer = null;
  }
}

// ---------------------------------------------------------------------------------------------
// Helpers shared with mqtt-sink.ts (internal: not part of the package's API).

/** @internal */
export interface ConnectMqttClientOptions {
  url: string;
  clientId: string;
  clean: boolean;
  keepaliveSeconds: number;
  connectTimeoutMs: number;
  /** The code of the TributaryError thrown when no connection is made. */
  errorCode: ErrorCode;
  /** Who connects, for messages: `mqtt sink trib-sink-…`. */
  what: string;
  log: Logger;
}

/**
 * @internal An mqtt.js client (MQTT 3.1.1, Nagle off, reconnecting every second) once its first
 * CONNACK arrived. Fails fast on the first error or close before that (refused, unreachable,
 * wrong URL) and after `connectTimeoutMs`; nothing is left running then. Later connection losses
 * are logged and repaired by mqtt.js.
 */
export async function connectMqttClient(o: ConnectMqttClientOptions): Promise<MqttClient> {
  const fail = (reason: string, cause?: unknown) =>
    new TributaryError(o.errorCode, `${o.what}: cannot connect to the MQTT broker at ${o.url}: ${reason}`, { cause });
  const options: IClientOptions = {
    protocolVersion: 4, // aedes speaks MQTT 3.1.1 only
    clientId: o.clientId,
    clean: o.clean,
    keepalive: o.keepaliveSeconds,
    reconnectPeriod: DEFAULT_RECONNECT_MS,
    connectTimeout: o.connectTimeoutMs,
  };
  let client: MqttClient;
  try {
    client = connect(o.url, options);
  } catch (cause) {
    throw fail((cause as Error).message, cause);
  }
  // Always a listener: an 'error' event without one would crash the process.
  client.on('error', (err) => o.log.debug({ err }, `${o.what}: MQTT client error`));
  // Nagle adds ~40 ms to small packets (FACTS.md); every reconnect opens a new socket.
  const noDelay = () => (client.stream as { setNoDelay?: (on: boolean) => void } | undefined)?.setNoDelay?.(true);
  noDelay();
  client.on('packetsend', (packet: Packet) => {
    if (packet.cmd === 'connect') noDelay();
  });
  let timer: NodeJS.Timeout | undefined;
  let onError!: (err: Error) => void;
  let onClose!: () => void;
  try {
    await new Promise<void>((resolve, reject) => {
      onError = (err) => reject(fail(err.message, err));
      onClose = () => reject(fail('the connection closed before the broker accepted it'));
      client.once('connect', () => resolve());
      client.on('error', onError);
      client.on('close', onClose);
      timer = setTimeout(() => reject(fail(`no CONNACK within ${o.connectTimeoutMs} ms`)), o.connectTimeoutMs);
    });
  } catch (err) {
    await endMqttClient(client, o.log, true);
    throw err;
  } finally {
    clearTimeout(timer);
    client.removeListener('error', onError);
    client.removeListener('close', onClose);
  }
  let online = true;
  client.on('close', () => {
    if (online && !client.disconnecting) o.log.warn({ url: o.url }, `${o.what}: lost the MQTT connection, reconnecting`);
    online = false;
  });
  client.on('connect', () => {
    if (!online) o.log.info({ url: o.url }, `${o.what}: MQTT connection restored`);
    online = true;
  });
  return client;
}

/** @internal Ends a client: DISCONNECT after in-flight packets, bounded; forced otherwise. */
export async function endMqttClient(client: MqttClient, log?: Logger, force = false): Promise<void> {
  const ended = client.endAsync(force || !client.connected).catch((err) => log?.debug({ err }, 'ending the MQTT client failed'));
  if (!(await withTimeout(ended, 5000, '').then(() => true, () => false))) {
    client.end(true);
    client.stream?.destroy();
  }
}

/** @internal */
export function checkUrl(url: unknown, where: string): asserts url is string {
  if (typeof url !== 'string' || url.length === 0) throw new TypeError(`${where}: url must be a non-empty string such as mqtt://127.0.0.1:1883`);
}

/** @internal */
export function checkFormat(format: unknown, where: string): MqttPayloadFormat {
  const f = format ?? 'json';
  if (f !== 'json' && f !== 'cbor') throw new TypeError(`${where}: format must be 'json' or 'cbor'`);
  return f;
}

/** @internal */
export function checkQos(qos: unknown, where: string): 0 | 1 {
  const q = qos ?? 1;
  if (q !== 0 && q !== 1) throw new TypeError(`${where}: qos must be 0 or 1`);
  return q;
}

/** @internal */
export function checkClientId(clientId: unknown, where: string): string | undefined {
  if (clientId === undefined) return undefined;
  if (typeof clientId !== 'string' || clientId.length === 0 || clientId.length > 65535) {
    throw new TypeError(`${where}: clientId must be a non-empty string`);
  }
  return clientId;
}

/** @internal A topic name one can publish to: no wildcards, no NUL, 1..65535 bytes. */
export function isValidTopicName(topic: unknown): topic is string {
  return typeof topic === 'string' && topic.length > 0 && Buffer.byteLength(topic) <= 65535 && !/[+#\u0000]/.test(topic);
}

function isValidFilter(filter: unknown): filter is string {
  if (typeof filter !== 'string' || filter.length === 0 || Buffer.byteLength(filter) > 65535 || filter.includes('\u0000')) return false;
  const levels = filter.split('/');
  return levels.every((level, i) => {
    if (level === '#') return i === levels.length - 1;
    return level === '+' || !/[+#]/.test(level);
  });
}

function positiveInt(value: unknown, fallback: number, name: string, where: string): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) throw new TypeError(`${where}: ${name} must be an integer > 0`);
  return value;
}

function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(message)), ms)));
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
