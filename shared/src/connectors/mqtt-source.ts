import type { IPublishPacket, MqttClient } from 'mqtt';
import { cborDecoder } from '../wire/cbor.js';
import { ErrorCodes, TributaryError } from '../api/errors.js';
import { connectMqttClient, endMqttClient } from '../mqtt/mqtt-client.js';
import type { Message } from '../api/message.js';
import { isEventTime } from '../api/message.js';
import type { Source, SourceContext } from '../api/source/source.js';
import type { MqttPayloadFormat, MqttSourceStats, ResolvedSourceOptions } from '../api/source/mqtt-source.js';
import { connectorConnection, type HostBroker } from './host-broker.js';

type Decode = (payload: Buffer) => unknown;
const decoders: Record<MqttPayloadFormat, Decode> = {
  json: (payload) => JSON.parse(payload.toString('utf8')),
  cbor: (payload) => cborDecoder.decode(payload),
};

/** One task of `mqttSource`. Exported for its `stats()`; create it through `mqttSource`. */
export class MqttSource<T> implements Source<T> {
  private client: MqttClient | null = null;
  /** The connection open() is waiting for: close() waits for it too, and ends it. */
  private connecting: Promise<MqttClient> | null = null;
  private ctx!: SourceContext;
  /** Its MQTT client id, once open() chose it (connectorConnection). */
  private clientId = '';
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
  /** When the source last pinged the broker itself (see ping()). */
  private lastPingMs = 0;
  private wake: (() => void) | null = null;
  private closed = false;

  constructor(private readonly o: ResolvedSourceOptions<T>, private readonly host?: HostBroker) {
    this.decode = decoders[o.format];
    const spec = o.timestamp;
    if (typeof spec === 'function') this.tsOf = (r, topic) => spec(r, topic);
    else if (spec === 'ingest') this.tsOf = (_r, _t, now) => now;
    else this.tsOf = (r) => (r !== null && typeof r === 'object' ? (r as Record<string, unknown>)[spec] : undefined);
  }

  async open(ctx: SourceContext): Promise<void> {
    this.ctx = ctx;
    const { topics, qos } = this.o;
    const { clientId, ...connection } = connectorConnection(this.o.url, this.o.clientId, this.host, { role: 'source', app: ctx.app, processor: ctx.processor, taskIndex: ctx.taskIndex });
    this.clientId = clientId;
    const url = connection.url;
    let client: MqttClient;
    try {
      client = await (this.connecting = connectMqttClient(
        {
          ...connection,
          clientId,
          clean: this.o.clean,
          keepaliveSeconds: this.o.keepaliveSeconds,
          connectTimeoutMs: this.o.connectTimeoutMs,
          failFast: true,
          what: `mqtt source ${this.clientId}`,
          log: ctx.log,
        },
        (c) => {
          // Every PUBLISH passes here before mqtt.js acknowledges it and parses the next packet
          // (set before the CONNACK: with clean: false, queued messages follow it at once).
          c.handleMessage = (packet, done) => this.onPublish(packet, done);
          c.on('close', () => {
            // Held messages belong to the lost connection: never acknowledged, so with clean: false
            // the broker sends them again on the next one (with a clean session they are gone anyway).
            // Acknowledging them later would send stale packet ids on the new connection.
            this.stopPinging();
            this.held = [];
          });
        },
      ));
    } catch (cause) {
      throw new TributaryError(ErrorCodes.SOURCE_FAILED, `mqtt source ${this.clientId}: cannot connect: ${(cause as Error).message}`, { cause });
    } finally {
      this.connecting = null;
    }
    // Closed while connecting (the task was aborted): close() ends this connection once it is up
    // (it must not outlive the task, or reconnect for ever under the next run's client id).
    if (this.closed) return;
    this.client = client;
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
    const client = this.client ?? (await this.connecting?.catch(() => null)) ?? null;
    this.client = null;
    // Held messages stay unacknowledged: with clean: false the broker redelivers them.
    this.held = [];
    const dropped = this.available();
    if (dropped > 0) this.ctx?.log.info({ dropped }, 'mqtt source closed with records still buffered; they are dropped');
    this.buffer = [];
    this.head = 0;
    if (client) await endMqttClient(client, { log: this.ctx?.log });
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
    const now = Date.now();
    if (now - this.lastPingMs >= (this.o.keepaliveSeconds * 1000) / 2) this.ping(now);
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
    this.pingTimer = setInterval(() => this.ping(), everyMs);
    this.pingTimer.unref();
  }

  /**
   * A PINGREQ (the broker hears from the client) and a reset of mqtt.js's keepalive clock. Also
   * called, at most every keepalive / 2, while PUBLISHes arrive: mqtt.js counts only PINGRESPs and
   * acks as signs of life, and behind a backlog of PUBLISHes (each through onPublish) its PINGRESP
   * can come later than 0.5 × keepalive after its PINGREQ: it would then drop a live connection
   * ("Keepalive timeout") and, with a clean session, lose what the broker had in flight.
   */
  private ping(now = Date.now()): void {
    const client = this.client;
    if (!client?.connected) return;
    this.lastPingMs = now;
    client.sendPing();
    client.reschedulePing(true);
  }

  private stopPinging(): void {
    if (this.pingTimer) clearInterval(this.pingTimer);
    this.pingTimer = null;
  }
}

/** Rejects with `message` unless `promise` settles within `ms`. */
function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(message)), ms)));
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
