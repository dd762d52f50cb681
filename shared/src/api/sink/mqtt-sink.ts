import type { SinkSpec } from './sink.js';
import { connectorSpecCreate } from '../connectors.js';

export interface MqttSinkOptions<T> {
  /** Broker URL, e.g. mqtt://127.0.0.1:1883. */
  url: string;
  /** Topic for every message, or a function of the value choosing one. */
  topic: string | ((value: T) => string);
  /** Payload encoding (default json). */
  format?: 'json' | 'cbor';
  /**
   * Default 1: write() resolves once the broker acknowledged every result. With 0 nobody
   * acknowledges, so with checkpoints on a checkpoint may cover results the broker never got.
   */
  qos?: 0 | 1;
  retain?: boolean;
  /** Default: a unique id per task. */
  clientId?: string;
  /** How long open() waits for the broker before failing (default 10 s). */
  connectTimeoutMs?: number;
  /**
   * Exactly-once (checkpoints on): prefix of the retained topics where each sink task keeps the
   * identities of the results it emitted, `<markerTopic>/<taskIndex>`. Default
   * `tributary/sink-state/<topic>` (`tributary/sink-state/topic-fn` for a topic function). Give
   * each application and sink its own when several publish the same topic on one broker.
   */
  markerTopic?: string;
}

/**
 * Publishes each result's value to an MQTT topic, so any MQTT client can consume results. write()
 * resolves once every QoS 1 publish of the batch is acknowledged: the broker's pace is the sink's.
 */
export function mqttSink<T = unknown>(options: MqttSinkOptions<T>): SinkSpec<T> {
  if (typeof options?.url !== 'string' || !/^mqtts?:\/\//.test(options.url)) throw new TypeError('mqttSink: url must be mqtt://host:port');
  if (typeof options.topic !== 'string' && typeof options.topic !== 'function') throw new TypeError('mqttSink: topic must be a string or a function');
  const m = options.markerTopic;
  if (m !== undefined && (typeof m !== 'string' || m.length === 0 || /[+#\0]/.test(m))) {
    throw new TypeError('mqttSink: markerTopic must be a non-empty topic name without wildcards');
  }
  const label = typeof options.topic === 'string' ? options.topic : 'topic(fn)';
  return {
    kind: 'sink', name: `mqtt(${label})`, maxParallelism: Number.MAX_SAFE_INTEGER,
    connector: { type: 'mqtt', options }, create: connectorSpecCreate('mqttSink'),
  };
}
