import type { Message } from '../api/message.js';
import { isEventTime } from '../api/message.js';
import type { Source, SourceContext } from '../api/source/source.js';
import type { JsonLinesSourceOptions } from '../api/source/json-lines-source.js';
import { LineReader } from './line-reader.js';

type TimestampOf<T> = (record: T, now: number) => unknown;

export function timestampOf<T>(spec: NonNullable<JsonLinesSourceOptions<T>['timestamp']>): TimestampOf<T> {
  if (typeof spec === 'function') return (r) => spec(r);
  if (spec === 'ingest') return (_r, now) => now;
  return (r) => (r !== null && typeof r === 'object' ? (r as Record<string, unknown>)[spec] : undefined);
}

export class JsonLinesSource<T> implements Source<T> {
  private readonly reader: LineReader;
  private ctx!: SourceContext;
  constructor(private readonly path: string, private readonly tsOf: TimestampOf<T>, private readonly validate?: (record: T) => string | undefined) {
    this.reader = new LineReader(path);
  }
  async open(ctx: SourceContext): Promise<void> {
    this.ctx = ctx;
    await this.reader.open();
  }
  async read(max: number): Promise<Message<T>[] | null> {
    const lines = await this.reader.readLines(max);
    if (lines === null) return null;
    const now = Date.now();
    const firstLine = this.reader.lineNumber - lines.length + 1;
    const out: Message<T>[] = [];
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i];
      if (line.trim().length === 0) continue;
      const msg = this.parse(line, firstLine + i, now);
      if (msg) out.push(msg);
    }
    return out;
  }
  private parse(line: string, lineNumber: number, now: number): Message<T> | null {
    let record: T;
    try {
      record = JSON.parse(line) as T;
    } catch (err) {
      this.ctx.reject(`${this.path}:${lineNumber}: malformed JSON`, (err as Error).message);
      return null;
    }
    const invalid = this.validate?.(record);
    if (invalid !== undefined) {
      this.ctx.reject(`${this.path}:${lineNumber}: ${invalid}`);
      return null;
    }
    const ts = this.tsOf(record, now);
    if (!isEventTime(ts)) {
      this.ctx.reject(`${this.path}:${lineNumber}: no valid integer timestamp`, ts);
      return null;
    }
    return { ts, value: record };
  }
  async close(): Promise<void> {
    await this.reader.close();
  }
}
