import { ErrorCodes, TributaryError } from './errors.js';
import type { Sink, SinkSpec } from './sink/sink.js';
import type { Source, SourceSpec } from './source/source.js';
import type { ConnectorRef } from './connector-ref.js';

export type { ConnectorRef };

/** What a hosting process supplies: the implementations of the built-in connectors. */
export interface Connectors {
  source(ref: ConnectorRef): Source;
  sink(ref: ConnectorRef): Sink;
}

/**
 * Makes the Source of a spec: the host's connector for a built-in one, the spec's own create()
 * otherwise. Called by the runtime once per source task.
 */
export function createSource<T>(spec: SourceSpec<T>, connectors: Connectors | undefined): Source<T> {
  if (!spec.connector) return spec.create();
  if (!connectors) throw missing(spec.name);
  return connectors.source(spec.connector) as Source<T>;
}

/** Makes the Sink of a spec, as createSource does for sources. Called once per sink task. */
export function createSink<T>(spec: SinkSpec<T>, connectors: Connectors | undefined): Sink<T> {
  if (!spec.connector) return spec.create();
  if (!connectors) throw missing(spec.name);
  return connectors.sink(spec.connector) as Sink<T>;
}

/** The create() of a built-in spec: only a host's connector can make it. */
export function connectorSpecCreate(factory: string): () => never {
  return () => {
    throw new TributaryError(ErrorCodes.CONNECTOR_MISSING, `${factory}(): its implementation is supplied by the process that hosts the task (a node, or \`tributary run\`); create() cannot make it`);
  };
}

function missing(name: string): TributaryError {
  return new TributaryError(ErrorCodes.CONNECTOR_MISSING, `${name}: this process supplies no connectors for built-in sources and sinks`);
}
