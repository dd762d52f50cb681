import type { SinkSpec } from './sink.js';
import { connectorSpecCreate } from '../connectors.js';

export interface MqttSinkOptions<T> {
  /**
   * Broker URL, e.g. mqtt://127.0.0.1:1883. Omitted: the cluster's own broker, with the hosting
   * node's connection settings (URL, TLS, credentials) and a client id `<nodeId>.…`
   * (`tributary run`: mqtt://127.0.0.1:1883).
   */
  url?: string;
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
  /**
   * Each result published as a JSON or CBOR object carries a deterministic id under this field
   * (default `_id`; `false`: none), so any consumer can drop a redelivered result: see
   * docs/exactly-once.md. The id is a hash of the application, the sink's processor, the result's
   * key and timestamp (a window result: its window) and its content, so a replayed or redelivered
   * result has the same id and two different results never share one. Values that are not plain
   * objects (numbers, strings, arrays) are published unchanged, without an id.
   */
  idField?: string | false;
}

/**
 * Publishes each result's value to an MQTT topic, so any MQTT client can consume results. write()
 * resolves once every QoS 1 publish of the batch is acknowledged: the broker's pace is the sink's.
 */
export function mqttSink<T = unknown>(options: MqttSinkOptions<T>): SinkSpec<T> {
  if (typeof options !== 'object' || options === null) throw new TypeError('mqttSink: options must be an object');
  if (options.url !== undefined && (typeof options.url !== 'string' || !/^mqtts?:\/\//.test(options.url))) throw new TypeError('mqttSink: url must be mqtt://host:port (or omitted: the cluster\'s broker)');
  if (typeof options.topic !== 'string' && typeof options.topic !== 'function') throw new TypeError('mqttSink: topic must be a string or a function');
  const m = options.markerTopic;
  if (m !== undefined && (typeof m !== 'string' || m.length === 0 || /[+#\0]/.test(m))) {
    throw new TypeError('mqttSink: markerTopic must be a non-empty topic name without wildcards');
  }
  const f = options.idField;
  if (f !== undefined && f !== false && (typeof f !== 'string' || f.length === 0)) throw new TypeError('mqttSink: idField must be a non-empty field name or false');
  const label = typeof options.topic === 'string' ? options.topic : 'topic(fn)';
  return {
    kind: 'sink', name: `mqtt(${label})`, maxParallelism: Number.MAX_SAFE_INTEGER,
    connector: { type: 'mqtt', options }, create: connectorSpecCreate('mqttSink'),
  };
}
