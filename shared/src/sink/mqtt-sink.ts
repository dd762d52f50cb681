import { randomBytes } from 'node:crypto';
import mqtt, { type MqttClient } from 'mqtt';
import { cborEncoder } from '../codec/cbor.js';
import { ErrorCodes, TributaryError } from '../errors.js';
import type { Message } from '../message.js';
import type { Sink, SinkSpec } from './sink.js';

export interface MqttSinkOptions<T> {
  /** Broker URL, e.g. mqtt://127.0.0.1:1883. */
  url: string;
  /** Topic for every message, or a function of the value choosing one. */
  topic: string | ((value: T) => string);
  /** Payload encoding (default json). */
  format?: 'json' | 'cbor';
  qos?: 0 | 1;
  retain?: boolean;
  /** Default: a unique id per task. */
  clientId?: string;
  /** How long open() waits for the broker before failing (default 10 s). */
  connectTimeoutMs?: number;
}

/**
 * Publishes each result's value to an MQTT topic, so any MQTT client can consume results. write()
 * resolves once every QoS 1 publish of the batch is acknowledged: the broker's pace is the sink's.
 */
export function mqttSink<T = unknown>(options: MqttSinkOptions<T>): SinkSpec<T> {
  if (typeof options?.url !== 'string' || !/^mqtts?:\/\//.test(options.url)) throw new TypeError('mqttSink: url must be mqtt://host:port');
  if (typeof options.topic !== 'string' && typeof options.topic !== 'function') throw new TypeError('mqttSink: topic must be a string or a function');
  const label = typeof options.topic === 'string' ? options.topic : 'topic(fn)';
  return { kind: 'sink', name: `mqtt(${label})`, maxParallelism: Number.MAX_SAFE_INTEGER, create: () => new MqttSink<T>(options) };
}

class MqttSink<T> implements Sink<T> {
  private client: MqttClient | null = null;
  private readonly encode: (v: T) => Buffer | string;
  private readonly topicOf: (v: T) => string;

  constructor(private readonly o: MqttSinkOptions<T>) {
    this.encode = o.format === 'cbor' ? (v) => cborEncoder.encode(v) : (v) => JSON.stringify(v);
    const topic = o.topic;
    this.topicOf = typeof topic === 'string' ? () => topic : topic;
  }

  async open(ctx: { taskIndex: number }): Promise<void> {
    const clientId = this.o.clientId ?? `trib-sink-${ctx.taskIndex}-${randomBytes(4).toString('hex')}`;
    try {
      this.client = await mqtt.connectAsync(this.o.url, {
        protocolVersion: 4,
        clientId,
        connectTimeout: this.o.connectTimeoutMs ?? 10_000,
        reconnectPeriod: 1000,
      }, false);
    } catch (cause) {
      throw new TributaryError(ErrorCodes.SINK_FAILED, `mqttSink cannot connect to ${this.o.url}: ${(cause as Error).message}`, { cause });
    }
    (this.client.stream as { setNoDelay?: (v: boolean) => void }).setNoDelay?.(true);
  }

  write(batch: readonly Message<T>[]): Promise<void> | void {
    const client = this.client;
    if (!client || batch.length === 0) return;
    const opts = { qos: this.o.qos ?? 1, retain: this.o.retain ?? false } as const;
    return Promise.all(batch.map((m) => client.publishAsync(this.topicOf(m.value), this.encode(m.value), opts))).then(
      () => undefined,
      (cause: Error) => {
        throw new TributaryError(ErrorCodes.SINK_FAILED, `mqttSink publish to ${this.o.url} failed: ${cause.message}`, { cause });
      },
    );
  }

  async close(): Promise<void> {
    const client = this.client;
    this.client = null;
    await client?.endAsync();
  }
}
