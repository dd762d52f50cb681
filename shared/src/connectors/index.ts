import type { ConnectorRef, Connectors } from '../api/connectors.js';
import { ErrorCodes, TributaryError } from '../api/errors.js';
import type { Sink } from '../api/sink/sink.js';
import type { Source } from '../api/source/source.js';
import type { JsonLinesSourceOptions } from '../api/source/json-lines-source.js';
import type { LinesSourceOptions } from '../api/source/lines-source.js';
import type { ResolvedSourceOptions } from '../api/source/mqtt-source.js';
import type { MqttSinkOptions } from '../api/sink/mqtt-sink.js';
import type { PostgresSinkOptions } from '../api/sink/postgres-sink.js';
import { JsonLinesFileSink, StreamSink } from './json-lines-sink.js';
import { JsonLinesSource, timestampOf } from './json-lines-source.js';
import { LinesSource } from './lines-source.js';
import { MqttSink } from './mqtt-sink.js';
import { MqttSource } from './mqtt-source.js';
import { PostgresSink } from './postgres-sink.js';
import type { HostBroker } from './host-broker.js';

type Make<T> = (options: never, host: HostBroker | undefined) => T;

/** The implementations of the API's built-in sources, by `ConnectorRef.type`. */
const SOURCES: Record<string, Make<Source>> = {
  lines: (o: LinesSourceOptions & { path: string }) => new LinesSource(o),
  jsonLines: (o: JsonLinesSourceOptions<unknown> & { path: string }) => new JsonLinesSource(o.path, timestampOf(o.timestamp ?? 'ts'), o.validate),
  mqtt: (o: ResolvedSourceOptions<unknown>, host) => new MqttSource(o, host),
};

/** The implementations of the API's built-in sinks, by `ConnectorRef.type`. */
const SINKS: Record<string, Make<Sink>> = {
  jsonLines: (o: { path: string }) => new JsonLinesFileSink(o.path),
  stdout: () => new StreamSink(() => process.stdout, 'stdout'),
  mqtt: (o: MqttSinkOptions<unknown>, host) => new MqttSink(o, host),
  postgres: (o: PostgresSinkOptions<unknown>) => new PostgresSink(o),
};

/**
 * The connectors a Tributary process supplies: files, standard output, MQTT and PostgreSQL. A node
 * passes `host`, its own broker connection (AppSession): MQTT connectors without a URL use the
 * cluster's broker with the node's identity. Composition roots hand them to the runtime.
 */
export function createConnectors(host?: HostBroker): Connectors {
  return {
    source: (ref) => make(SOURCES, ref, 'source', host),
    sink: (ref) => make(SINKS, ref, 'sink', host),
  };
}

/** The connectors of a process that is no node (`tributary run`, tests): MQTT without a URL goes to mqtt://127.0.0.1:1883. */
export const builtinConnectors: Connectors = createConnectors();

function make<T>(table: Record<string, Make<T>>, ref: ConnectorRef, what: string, host: HostBroker | undefined): T {
  const factory = Object.hasOwn(table, ref.type) ? table[ref.type] : undefined;
  if (!factory) throw new TributaryError(ErrorCodes.CONNECTOR_MISSING, `no built-in ${what} connector '${ref.type}' in this process`);
  return factory(ref.options as never, host);
}

export { LOCAL_BROKER_URL, type HostBroker, type MqttConnectSettings } from './host-broker.js';
