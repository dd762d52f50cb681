import { encodeFrame } from '../wire/frame.js';
import type { EncodedValues } from '../wire/frame-v2.js';
import type { Message } from '../api/message.js';
import type { LoggedBatch, ReplayLog, SourceLogStats } from './replay-log.js';

interface Kept extends LoggedBatch {
  /** Newest timestamp seen once this batch was appended. */
  readonly maxTsAfter: number;
  readonly bytes: number;
}

/** ReplayLog in memory: for tests, and for sources whose input can itself be re-read. */
export class MemoryReplayLog implements ReplayLog {
  private readonly logs = new Map<string, { batches: Kept[]; nextSeq: number; maxTs: number; position?: unknown; trimmedMaxTs: number }>();

  async open(): Promise<void> {}
  async close(): Promise<void> {}

  private log(source: string) {
    let l = this.logs.get(source);
    if (!l) this.logs.set(source, (l = { batches: [], nextSeq: 0, maxTs: -Infinity, trimmedMaxTs: -Infinity }));
    return l;
  }

  async append(source: string, records: readonly Message[], clock: number, position?: unknown, values?: EncodedValues | null): Promise<number> {
    const l = this.log(source);
    if (position !== undefined) l.position = structuredClone(position);
    const firstSeq = l.nextSeq;
    for (const r of records) if (r.ts > l.maxTs) l.maxTs = r.ts;
    // Encoded once, as the disk log would, so both refuse the same bad records and report sizes.
    const bytes = encodeFrame({ app: source, epoch: 0, sender: 0, firstSeq, clock, messages: records as Message[] }, undefined, values).byteLength;
    l.batches.push({ firstSeq, clock, records: records.map((r) => ({ ...r })), maxTsAfter: l.maxTs, bytes });
    l.nextSeq += records.length;
    return firstSeq;
  }

  async *read(source: string, fromSeq: number): AsyncIterable<LoggedBatch> {
    for (const b of [...this.log(source).batches]) {
      if (b.firstSeq + b.records.length > fromSeq) yield { firstSeq: b.firstSeq, clock: b.clock, records: b.records };
    }
  }

  async seqForTimestamp(source: string, ts: number): Promise<number> {
    const l = this.log(source);
    return l.batches.find((b) => b.records.length > 0 && b.maxTsAfter >= ts)?.firstSeq ?? l.nextSeq;
  }

  async position(source: string): Promise<unknown> {
    return this.log(source).position;
  }

  async replayStart(source: string, ts: number): Promise<{ seq: number; maxTsBefore: number }> {
    const l = this.log(source);
    const i = l.batches.findIndex((b) => b.records.length > 0 && b.maxTsAfter >= ts);
    if (i < 0) return { seq: l.nextSeq, maxTsBefore: l.maxTs };
    const before = l.batches.slice(0, i).reverse().find((b) => b.records.length > 0);
    return { seq: l.batches[i].firstSeq, maxTsBefore: before ? before.maxTsAfter : l.trimmedMaxTs };
  }

  async trim(source: string, belowSeq: number): Promise<number> {
    const l = this.log(source);
    let removed = 0;
    while (l.batches.length > 0 && l.batches[0].firstSeq + l.batches[0].records.length <= belowSeq) {
      const b = l.batches.shift()!;
      removed += b.records.length;
      if (b.records.length > 0) l.trimmedMaxTs = b.maxTsAfter;
    }
    return removed;
  }

  async stats(source: string): Promise<SourceLogStats> {
    const l = this.log(source);
    return {
      firstSeq: l.batches[0]?.firstSeq ?? l.nextSeq,
      nextSeq: l.nextSeq,
      batches: l.batches.length,
      records: l.batches.reduce((n, b) => n + b.records.length, 0),
      bytes: l.batches.reduce((n, b) => n + b.bytes, 0),
    };
  }
}
