import type { SourceSpec } from './source.js';
import { connectorSpecCreate } from '../connectors.js';

export interface LinesSourceOptions {
  /** Skip empty lines (default false: an empty line is a record like any other). */
  skipEmpty?: boolean;
}

/**
 * Each line of a text file is a record; its timestamp is the time it was read (ingestion time,
 * kept monotonic so a wall-clock step back never makes a line late).
 */
export function linesSource(path: string, options: LinesSourceOptions = {}): SourceSpec<string> {
  if (typeof path !== 'string' || path.length === 0) throw new TypeError('linesSource(path): path must be a non-empty string');
  return {
    kind: 'source',
    name: `lines(${path})`,
    watermark: { maxDelayMs: 0 },
    maxParallelism: 1,
    connector: { type: 'lines', options: { path, ...options } },
    create: connectorSpecCreate('linesSource'),
  };
}
