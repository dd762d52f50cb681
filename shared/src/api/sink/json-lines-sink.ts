import type { SinkSpec } from './sink.js';
import { connectorSpecCreate } from '../connectors.js';

/** Writes each message's value as one JSON line to a file (created or truncated on open). */
export function jsonLinesSink<T = unknown>(path: string): SinkSpec<T> {
  if (typeof path !== 'string' || path.length === 0) throw new TypeError('jsonLinesSink(path): path must be a non-empty string');
  return { kind: 'sink', name: `jsonLines(${path})`, maxParallelism: 1, connector: { type: 'jsonLines', options: { path } }, create: connectorSpecCreate('jsonLinesSink') };
}

/** Writes each message's value as one JSON line to standard output. */
export function stdoutSink<T = unknown>(): SinkSpec<T> {
  return { kind: 'sink', name: 'stdout', maxParallelism: 1, connector: { type: 'stdout', options: {} }, create: connectorSpecCreate('stdoutSink') };
}
