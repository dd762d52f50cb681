import type { Message } from '../api/message.js';
import type { Source, SourceContext } from '../api/source/source.js';
import type { LinesSourceOptions } from '../api/source/lines-source.js';
import { LineReader } from './line-reader.js';

/** The `linesSource` connector: one record per line, stamped with the (monotonic) time it was read. */
export class LinesSource implements Source<string> {
  private readonly reader: LineReader;
  private lastTs = -Infinity;
  constructor(private readonly options: LinesSourceOptions & { path: string }) {
    this.reader = new LineReader(options.path);
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
