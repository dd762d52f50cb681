import type { Message } from '../message.js';
import { LineReader } from './line-reader.js';
import type { Source, SourceContext, SourceSpec } from './source.js';

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
    create: () => new LinesSource(path, options),
  };
}

class LinesSource implements Source<string> {
  private readonly reader: LineReader;
  private lastTs = -Infinity;
  constructor(private readonly path: string, private readonly options: LinesSourceOptions) {
    this.reader = new LineReader(path);
  }
  async open(_ctx: SourceContext): Promise<void> {
    await this.reader.open();
  }
  async read(max: number): Promise<Message<string>[] | null> {
    const lines = await this.reader.readLines(max);
    if (lines === null) return null;
    const ts = (this.lastTs = Math.max(this.lastTs, Date.now()));
    const out: Message<string>[] = [];
    for (const line of lines) {
      if (this.options.skipEmpty && line.length === 0) continue;
      out.push({ ts, value: line });
    }
    return out;
  }
  async close(): Promise<void> {
    await this.reader.close();
  }
}
