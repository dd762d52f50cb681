import type { SourceSpec } from './source.js';
import type { DeviceDelay } from '../clock/device-watermark.js';
import type { WatermarkSpec } from '../clock/watermark.js';
import { connectorSpecCreate } from '../connectors.js';

/** Payload encoding of an external MQTT topic. */
export type MqttPayloadFormat = 'json' | 'cbor';

export interface MqttSourceOptions<T> {
  /**
   * Broker URL, e.g. `mqtt://127.0.0.1:1883` (MQTT 3.1.1; `mqtts://`, `ws://` work too). Omitted:
   * the cluster's own broker, with the hosting node's connection settings (URL, TLS, credentials)
   * and a client id `<nodeId>.…` (`tributary run`: mqtt://127.0.0.1:1883).
   */
  url?: string;
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
  /**
   * How far behind its device's newest record a record may arrive and still be on time (default
   * 0). The source keeps a clock per device (see `deviceOf`).
   */
  maxDelayMs?: number;
  /**
   * The device a record comes from. The source keeps an event-time clock per device and its own
   * clock is the minimum over the active devices, so devices publishing each in order are never
   * late because of how they interleave. Default: the topic (one device per topic). `false`: one
   * clock for the whole source (newest timestamp seen minus maxDelayMs).
   */
  deviceOf?: ((record: T, topic: string) => string) | false;
  /** Allowed delay per device (a map by device id or a function of it); default maxDelayMs. */
  deviceDelayMs?: DeviceDelay;
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
    watermark: sourceWatermark(o),
    maxParallelism: 1,
    connector: { type: 'mqtt', options: o },
    create: connectorSpecCreate('mqttSource'),
  };
}

/** @internal The checked options the connector receives. */
export interface ResolvedSourceOptions<T> {
  /** Undefined: the host's broker (see MqttSourceOptions.url). */
  url: string | undefined;
  topics: string[];
  format: MqttPayloadFormat;
  timestamp: NonNullable<MqttSourceOptions<T>['timestamp']>;
  maxDelayMs: number;
  deviceOf: ((record: T, topic: string) => string) | false | undefined;
  deviceDelayMs?: DeviceDelay;
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
  if (options.url !== undefined) checkUrl(options.url, where);
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
  if (options.deviceOf !== undefined && options.deviceOf !== false && typeof options.deviceOf !== 'function') {
    throw new TypeError(`${where}: deviceOf must be a function (record, topic) => device id, or false`);
  }
  const dd = options.deviceDelayMs;
  if (dd !== undefined && typeof dd !== 'function' && (typeof dd !== 'object' || dd === null)) {
    throw new TypeError(`${where}: deviceDelayMs must be a map of device id to ms, or a function of the device id`);
  }
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
    url: options.url, topics, format, timestamp, maxDelayMs, deviceOf: options.deviceOf, deviceDelayMs: dd, validate: options.validate, topicField: options.topicField,
    qos, clientId, clean, count: options.count, maxBuffered, maxWaitMs, connectTimeoutMs, keepaliveSeconds,
  };
}

/** The source's clock: per device (by topic, or `deviceOf` of the record and its topic) unless deviceOf is false. */
function sourceWatermark<T>(o: ResolvedSourceOptions<T>): WatermarkSpec {
  if (o.deviceOf === false) return { maxDelayMs: o.maxDelayMs };
  const fn = o.deviceOf;
  return {
    maxDelayMs: o.maxDelayMs,
    perDevice: true,
    // The record's key is its topic (see mqttSource).
    deviceOf: fn ? (m) => String(fn(m.value as T, m.key as string)) : (m) => m.key as string,
    deviceDelayMs: o.deviceDelayMs,
  };
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
