import { createHash, randomBytes } from 'node:crypto';
import type { IPublishPacket, MqttClient } from 'mqtt';
import { cborEncoder } from '../wire/cbor.js';
import { ErrorCodes, TributaryError } from '../api/errors.js';
import type { Logger } from '../log/log.js';
import { connectMqttClient, endMqttClient } from '../mqtt/mqtt-client.js';
import type { Message } from '../api/message.js';
import type { Sink, SinkContext } from '../api/sink/sink.js';
import type { MqttSinkOptions } from '../api/sink/mqtt-sink.js';
import { sinkMarkerPrefix } from '../api/dag/app-topics.js';
import { connectorConnection, type HostBroker } from './host-broker.js';


/** One result the sink emitted: its ts, when it was written, how often, and replays still to skip. */
interface Emitted {
  ts: number;
  /** The sink's latest checkpoint time when it was (last) written; -Infinity: before any. */
  w: number;
  /** Times published (identical results may legitimately occur more than once). */
  n: number;
  /** Occurrences a replay has yet to re-emit (and the sink to skip) after a recovery. */
  skip: number;
}

/** The retained marker's payload: JSON, so any client can inspect it. w = null for -Infinity. */
interface MarkerPayload {
  v: 1;
  e: [id: string, ts: number, w: number | null, n: number][];
}

/**
 * The MQTT sink. Exactly-once (ctx.exactlyOnce, i.e. checkpoints on): a replayed result is the
 * same value on the same topic with the same ts as before the failure (the pipeline is
 * deterministic from the replay log), so each sink task keeps a retained "emitted" marker on
 * `<markerTopic>/<taskIndex>` holding a short hash of (topic, ts, payload) and a count for each
 * result it published that a replay could still re-emit. write() publishes the batch's results
 * (QoS 1, all acknowledged), then the updated marker (retained, QoS 1, acknowledged). A first run
 * resets the marker; a recovery (ctx.resume) reads it back and skips, per identity, as many
 * occurrences as it lists, publishing the rest. checkpoint(t) forgets entries no replay can
 * re-emit any more (see prune(): behind the latest complete checkpoint, which checkpointComplete()
 * reports), which keeps the marker at about two checkpoint intervals.
 *
 * Residual window: a crash after the results' PUBACKs and before the marker's (or after part of
 * a batch was acknowledged) leaves that batch out of the marker, so a consumer sees it again after
 * the recovery. MQTT QoS 1 is also at-least-once per hop: a dropped connection between broker and
 * consumer can redeliver a message, which no sink can prevent.
 */
export class MqttSink<T> implements Sink<T> {
  private client: MqttClient | null = null;
  private readonly encode: (v: T) => Buffer | string;
  private readonly idField: string | null;
  /** Hash prefix of the result ids: application and processor (set by open()). */
  private idScope = '';
  private readonly topicOf: (v: T) => string;
  private exactlyOnce = false;
  private log: Logger | null = null;
  private markerTopic = '';
  private readonly emitted = new Map<string, Emitted>();
  /** This sink's latest snapshot time (checkpoint()), and the application's latest complete checkpoint. */
  private lastCheckpoint = -Infinity;
  private completed = -Infinity;
  /** Closed (the task was aborted), possibly while open() was still connecting. */
  private closed = false;
  /** The connection open() is waiting for: close() waits for it too, and ends it. */
  private connecting: Promise<MqttClient> | null = null;

  constructor(private readonly o: MqttSinkOptions<T>, private readonly host?: HostBroker) {
    this.encode = o.format === 'cbor' ? (v) => cborEncoder.encode(v) : (v) => JSON.stringify(v);
    this.idField = o.idField === false ? null : (o.idField ?? '_id');
    const topic = o.topic;
    this.topicOf = typeof topic === 'string' ? () => topic : topic;
  }

  async open(ctx: SinkContext): Promise<void> {
    const { clientId, ...connection } = connectorConnection(this.o.url, this.o.clientId, this.host, { role: 'sink', app: ctx.app, processor: ctx.processor, taskIndex: ctx.taskIndex });
    let client: MqttClient;
    this.connecting = connectMqttClient({
      ...connection,
      clientId,
      keepaliveSeconds: 60, // mqtt.js's default, as before the client layer
      connectTimeoutMs: this.o.connectTimeoutMs ?? 10_000,
      failFast: true,
      what: `mqtt sink ${clientId}`,
      log: ctx.log,
    });
    try {
      client = await this.connecting;
    } catch (cause) {
      throw new TributaryError(ErrorCodes.SINK_FAILED, `mqttSink cannot connect to ${connection.url}: ${(cause as Error).message}`, { cause });
    } finally {
      this.connecting = null;
    }
    // Aborted while connecting (a new epoch came): close() ends this connection once it is up.
    // Left open, it would reconnect for ever under the client id the next run's sink takes, and
    // the two would throw each other off the broker in turn.
    if (this.closed) return;
    this.client = client;
    this.idScope = `${ctx.app ?? ''}\0${ctx.processor ?? ''}\0`;
    this.exactlyOnce = ctx.exactlyOnce ?? false;
    this.log = ctx.log ?? null;
    if (!this.exactlyOnce) return;
    const prefix = sinkMarkerPrefix(this.o);
    this.markerTopic = `${prefix}/${ctx.taskIndex}`;
    if (!ctx.resume) {
      // A new submission starts over, like the file sink truncating: an old marker must not hide results.
      await this.publishMarker();
      return;
    }
    const payload = await this.readMarker(client);
    if (payload === null) {
      this.log?.warn({ topic: this.markerTopic }, 'mqttSink: no emitted-marker on the broker (lost?): replayed results may be published again');
      return;
    }
    this.loadMarker(payload);
  }

  write(batch: readonly Message<T>[]): Promise<void> | void {
    const client = this.client;
    if (!client || batch.length === 0) return;
    const opts = { qos: this.o.qos ?? 1, retain: this.o.retain ?? false } as const;
    if (!this.exactlyOnce) {
      return Promise.all(batch.map((m) => {
        const topic = this.topicOf(m.value);
        const encoded = this.encode(m.value);
        return client.publishAsync(topic, this.withId(m, encoded, this.idField === null || !isPlainObject(m.value) ? null : payloadDigest(topic, m.ts, encoded), 1), opts);
      })).then(() => undefined, (err: Error) => this.failed(err));
    }
    const publishes: Promise<unknown>[] = [];
    for (const m of batch) {
      const topic = this.topicOf(m.value);
      const encoded = this.encode(m.value);
      // One hash of the payload per result: the marker's identity and the consumer's id both come from it.
      const digest = payloadDigest(topic, m.ts, encoded);
      const id = identity(digest);
      const e = this.emitted.get(id);
      if (e && e.skip > 0) {
        // A replay of a result published before the failure.
        e.skip--;
        continue;
      }
      let occurrence = 1;
      if (e) {
        occurrence = ++e.n;
        e.w = this.lastCheckpoint;
      } else {
        this.emitted.set(id, { ts: m.ts, w: this.lastCheckpoint, n: 1, skip: 0 });
      }
      publishes.push(client.publishAsync(topic, this.withId(m, encoded, digest, occurrence), opts));
    }
    if (publishes.length === 0) return;
    // Results first, then the marker: a crash in between shows the batch again (never loses it).
    return Promise.all(publishes).then(() => this.publishMarker(), (err: Error) => this.failed(err));
  }

  /**
   * A result's payload: its encoded value plus (plain objects only) its deterministic id, a hash of
   * the application, processor, key, ts and encoded value (see MqttSinkOptions.idField), and, from
   * the second identical result on, its occurrence number. With exactly-once the occurrences are
   * counted in the emitted-marker, so a result published again after a crash between its PUBACK
   * and the marker's (the sink's residual window) carries the id it had the first time.
   */
  private withId(m: Message<T>, encoded: Buffer | string, digest: Buffer | null, occurrence: number): Buffer | string {
    const v = m.value;
    const field = this.idField;
    if (field === null || digest === null || !isPlainObject(v)) return encoded;
    const id = resultId(this.idScope, m.key, digest, occurrence);
    if (typeof encoded === 'string') {
      // JSON of a plain object: the id goes first, without encoding the value twice.
      const head = `{${JSON.stringify(field)}:${JSON.stringify(id)}`;
      if (encoded[0] !== '{') return encoded; // a toJSON() that made it something else
      return encoded === '{}' ? `${head}}` : `${head},${encoded.slice(1)}`;
    }
    return cborEncoder.encode({ [field]: id, ...(v as Record<string, unknown>) });
  }

  checkpoint(t: number): Promise<void> | void {
    if (!this.exactlyOnce || t <= this.lastCheckpoint) return;
    this.lastCheckpoint = t;
    if (this.prune(this.completed) > 0) return this.publishMarker();
  }

  checkpointComplete(t: number): void {
    if (t > this.completed) this.completed = t;
  }

  /**
   * Forgets what a replay from checkpoint p or later cannot re-emit: results with ts < p written
   * before the sink's snapshot at p (a late result with ts < p written after it may be replayed).
   * p is the application's latest complete checkpoint, not the sink's own latest snapshot: until
   * every task reported it, a recovery restores an earlier one.
   */
  private prune(p: number): number {
    if (p === -Infinity) return 0;
    let dropped = 0;
    for (const [id, e] of this.emitted) {
      if (e.ts < p && e.w < p) {
        this.emitted.delete(id);
        dropped++;
      }
    }
    return dropped;
  }

  async close(): Promise<void> {
    this.closed = true;
    // Still connecting: wait for that connection (bounded by its connect timeout) and end it, so
    // that the task's next run does not connect until this one is gone.
    const client = this.client ?? (await this.connecting?.catch(() => null)) ?? null;
    this.client = null;
    // Graceful (in-flight publishes go out first), bounded: a dead broker does not hang the close.
    if (client) await endMqttClient(client, { log: this.log ?? undefined });
  }

  private failed(cause: Error): never {
    throw new TributaryError(ErrorCodes.SINK_FAILED, `mqttSink publish to ${this.o.url} failed: ${cause.message}`, { cause });
  }

  private publishMarker(): Promise<void> {
    const client = this.client;
    if (!client) return Promise.resolve();
    const marker: MarkerPayload = { v: 1, e: [] };
    for (const [id, e] of this.emitted) marker.e.push([id, e.ts, Number.isFinite(e.w) ? e.w : null, e.n]);
    return client.publishAsync(this.markerTopic, JSON.stringify(marker), { qos: 1, retain: true }).then(() => undefined, (err: Error) => this.failed(err));
  }

  private loadMarker(payload: Buffer): void {
    let marker: MarkerPayload;
    try {
      marker = JSON.parse(payload.toString('utf8')) as MarkerPayload;
      if (marker?.v !== 1 || !Array.isArray(marker.e)) throw new Error('not a version 1 marker');
    } catch (err) {
      this.log?.warn({ topic: this.markerTopic, err: (err as Error).message }, 'mqttSink: unreadable emitted-marker, ignored: replayed results may be published again');
      return;
    }
    for (const entry of marker.e) {
      if (!Array.isArray(entry)) continue;
      const [id, ts, w, n] = entry;
      if (typeof id !== 'string' || typeof ts !== 'number' || typeof n !== 'number') continue;
      this.emitted.set(id, { ts, w: typeof w === 'number' ? w : -Infinity, n, skip: n });
    }
  }

  /**
   * The retained marker, or null when there is none. The broker sends the SUBACK before the
   * retained message (aedes streams it afterwards), so the SUBACK alone proves nothing. Instead the
   * sink then publishes a fence, a non-retained message with a fresh nonce, to the marker topic
   * itself: MQTT delivers one topic's messages in order, and the retained message was published
   * before the fence, so a fence that arrives first means there is no marker.
   */
  private readMarker(client: MqttClient): Promise<Buffer | null> {
    const topic = this.markerTopic;
    const fence = `fence:${randomBytes(8).toString('hex')}`;
    const timeoutMs = this.o.connectTimeoutMs ?? 10_000;
    const read = new Promise<Buffer | null>((resolve, reject) => {
      const onMessage = (t: string, payload: Buffer, packet: IPublishPacket) => {
        if (t !== topic) return;
        if (packet.retain) done(null, payload);
        else if (payload.toString() === fence) done(null, null);
      };
      const timer = setTimeout(() => done(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      const done = (err: Error | null, payload: Buffer | null = null) => {
        clearTimeout(timer);
        client.off('message', onMessage);
        if (err) reject(new TributaryError(ErrorCodes.SINK_FAILED, `mqttSink cannot read its emitted-marker ${topic}: ${err.message}`, { cause: err }));
        else resolve(payload);
      };
      client.on('message', onMessage);
      client.subscribeAsync(topic, { qos: 1 }).then((granted) => {
        if (granted.some((g) => g.qos === 128)) throw new Error('subscription refused by the broker');
        return client.publishAsync(topic, fence, { qos: 1, retain: false });
      }).catch((err: Error) => done(err));
    });
    return read.finally(() => client.unsubscribeAsync(topic).catch(() => undefined));
  }
}

/** SHA-256 over a result's topic, ts and encoded payload: the one pass over the payload per result. */
function payloadDigest(topic: string, ts: number, payload: Buffer | string): Buffer {
  return createHash('sha256').update(topic).update('\0').update(String(ts)).update('\0').update(payload).digest();
}

/**
 * The id a consumer sees: 96 bits of SHA-256 over app, processor, key and the payload digest
 * (topic, ts, content), plus the occurrence from the second identical result on (base64url, 16 chars).
 */
function resultId(scope: string, key: unknown, digest: Buffer, occurrence: number): string {
  const h = createHash('sha256').update(scope).update(keyText(key)).update('\0').update(digest);
  if (occurrence > 1) h.update(`\0${occurrence}`);
  return h.digest().subarray(0, 12).toString('base64url');
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

function keyText(key: unknown): string {
  if (key === undefined) return '';
  if (typeof key === 'string') return `s${key}`;
  try {
    return `j${JSON.stringify(key)}`;
  } catch {
    return `x${String(key)}`;
  }
}

/** A result's identity in the emitted-marker: 64 bits of its payload digest (base64url, 11 chars). */
function identity(digest: Buffer): string {
  return digest.subarray(0, 8).toString('base64url');
}
