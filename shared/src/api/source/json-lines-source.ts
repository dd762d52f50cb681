import type { SourceSpec } from './source.js';
import { connectorSpecCreate } from '../connectors.js';

export interface JsonLinesSourceOptions<T> {
  /**
   * Where each record's event time comes from: a field name (default `ts`), a function, or
   * `'ingest'` for the time the line was read. A record without a valid integer timestamp is
   * rejected (counted and logged), never silently given another time.
   */
  timestamp?: string | ((record: T) => unknown) | 'ingest';
  /** How far behind the newest record a record may arrive and still be on time (default 0). */
  maxDelayMs?: number;
  /** Returns why a parsed record is unacceptable (it is then rejected), or undefined if it is fine. */
  validate?: (record: T) => string | undefined;
}

/** Each line of a file is a JSON document. Blank lines are skipped; malformed lines are rejected. */
export function jsonLinesSource<T = Record<string, unknown>>(path: string, options: JsonLinesSourceOptions<T> = {}): SourceSpec<T> {
  if (typeof path !== 'string' || path.length === 0) throw new TypeError('jsonLinesSource(path): path must be a non-empty string');
  const maxDelayMs = options.maxDelayMs ?? 0;
  return {
    kind: 'source',
    name: `jsonLines(${path})`,
    watermark: { maxDelayMs },
    maxParallelism: 1,
    connector: { type: 'jsonLines', options: { ...options, path } },
    create: connectorSpecCreate('jsonLinesSource'),
  };
}
