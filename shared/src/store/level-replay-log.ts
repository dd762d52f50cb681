import { Level } from 'level';
import { cborDecoder, cborEncoder } from '../wire/cbor.js';
import { decodeFrameWithValues, encodeFrame, frameMessageCount } from '../wire/frame.js';
import type { EncodedValues } from '../wire/frame-v2.js';
import type { Message } from '../api/message.js';
import { ErrorCodes, TributaryError } from '../api/errors.js';
import type { LoggedBatch, ReplayLog, SourceLogStats } from './replay-log.js';

import { parseSortableNumber as unnum, sortableNumber as num } from './sortable-number.js';

/** One batch in the log: its first sequence number, record count and encoded size. */
interface BatchEntry {
  seq: number;
  n: number;
  bytes: number;
  /**
   * The newest timestamp once this batch was appended: the ts of its index entry (a batch of no
   * records has none, n = 0). Never falls from one batch to the next, so the list is sorted by it.
   */
  maxTs: number;
}

/**
 * Per source, kept in memory from one scan at first use, so stats(), replayStart() and trim()
 * never read the log: trim() neither reads back (or decodes) the batches it removes nor scans the
 * index for their entries (a checkpoint's trim at 10k records/s took 7-11 ms doing so).
 */
interface SourceState {
  nextSeq: number;
  maxTs: number;
  records: number;
  bytes: number;
  /** Newest timestamp among trimmed batches (-Infinity: none trimmed): where the index starts. */
  trimmedMaxTs: number;
  /** The batches in the log, oldest first from index `head` (those before it are trimmed). */
  list: BatchEntry[];
  head: number;
}

/**
 * The on-disk format of the replay log, stored under `v!format` (docs/replay-log.md). An agent
 * version reads every format up to its own and refuses a newer one (TRIB_ERR_REPLAY_LOG_FORMAT)
 * instead of misreading it: after a rollback to an older agent nothing is replayed twice or
 * skipped silently. A log without the key predates it and is format 1 (the same layout).
 * Raise it with any change of the keys or values below, and keep reading the older formats.
 */
export const REPLAY_LOG_FORMAT = 1;

/**
 * ReplayLog on LevelDB. Per source:
 *   b!<source>!<firstSeq>        -> the batch as one encoded frame (the wire format, version 2
 *                                   even when keyed, so that older agents read it; its values
 *                                   section is what a remote channel sends on, not re-encoded)
 *   t!<source>!<maxTsAfter>!<seq> -> index: newest timestamp seen once this batch was appended
 *   p!<source>                   -> the source's read position after the last batch (CBOR)
 *   m!<source>                   -> newest timestamp among trimmed batches (replay needs it)
 *   v!format                     -> REPLAY_LOG_FORMAT (CBOR number)
 * The newest-timestamp-so-far only grows, so "from which batch on can a record with ts >= T
 * appear" is the first index entry >= T: one range scan of length 1.
 */
export class LevelReplayLog implements ReplayLog {
  private readonly db: Level<string, Uint8Array>;
  private readonly sources = new Map<string, SourceState>();
  private trimming: Promise<unknown> = Promise.resolve();

  constructor(path: string) {
    this.db = new Level<string, Uint8Array>(path, { valueEncoding: 'view' });
  }

  async open(): Promise<void> {
    await this.db.open();
    const stored = await this.db.get('v!format');
    const format = stored === undefined ? undefined : (cborDecoder.decode(stored) as unknown);
    if (format === undefined) {
      await this.db.put('v!format', cborEncoder.encode(REPLAY_LOG_FORMAT));
    } else if (typeof format !== 'number' || !Number.isInteger(format) || format > REPLAY_LOG_FORMAT) {
      await this.db.close();
      throw new TributaryError(ErrorCodes.REPLAY_LOG_FORMAT, `replay log ${this.db.location}: format ${String(format)} is newer than this agent reads (${REPLAY_LOG_FORMAT}); it was written by a later agent version`);
    }
  }

  async close(): Promise<void> {
    await this.db.close();
  }

  private async state(source: string): Promise<SourceState> {
    let s = this.sources.get(source);
    if (s) return s;
    s = { nextSeq: 0, maxTs: -Infinity, records: 0, bytes: 0, trimmedMaxTs: -Infinity, list: [], head: 0 };
    const m = await this.db.get(`m!${source}`);
    if (m !== undefined) s.trimmedMaxTs = cborDecoder.decode(m) as number;
    // The live index, from where the trimmed part ends (not from the range start: see trim()).
    const indexed = new Map<number, number>();
    const range = s.trimmedMaxTs === -Infinity ? { gt: `t!${source}!` } : { gte: `t!${source}!${num(s.trimmedMaxTs)}` };
    for await (const key of this.db.keys({ ...range, lt: `t!${source}!~` })) {
      const j = key.lastIndexOf('!');
      const ts = unnum(key.slice(key.lastIndexOf('!', j - 1) + 1, j));
      indexed.set(unnum(key.slice(j + 1)), ts);
      s.maxTs = ts;
    }
    let maxTs = s.trimmedMaxTs;
    for await (const [key, value] of this.db.iterator({ gt: `b!${source}!`, lt: `b!${source}!~` })) {
      const seq = unnum(key.slice(key.lastIndexOf('!') + 1));
      // version 2: counted from the event-time section's length, nothing decoded
      const n = frameMessageCount(value);
      maxTs = indexed.get(seq) ?? maxTs;
      s.records += n;
      s.bytes += value.byteLength;
      s.nextSeq = seq + n;
      s.list.push({ seq, n, bytes: value.byteLength, maxTs });
    }
    this.sources.set(source, s);
    return s;
  }

  async append(source: string, records: readonly Message[], clock: number, position?: unknown, values?: EncodedValues | null): Promise<number> {
    const s = await this.state(source);
    const firstSeq = s.nextSeq;
    for (const r of records) if (r.ts > s.maxTs) s.maxTs = r.ts;
    const frame = encodeFrame({ app: source, epoch: 0, sender: 0, firstSeq, clock, messages: records as Message[] }, undefined, values, false);
    const batch = this.db.batch().put(`b!${source}!${num(firstSeq)}`, frame);
    if (position !== undefined) batch.put(`p!${source}`, cborEncoder.encode(position));
    if (records.length > 0) batch.put(`t!${source}!${num(s.maxTs)}!${num(firstSeq)}`, new Uint8Array(0));
    await batch.write();
    s.nextSeq += records.length;
    s.records += records.length;
    s.bytes += frame.byteLength;
    s.list.push({ seq: firstSeq, n: records.length, bytes: frame.byteLength, maxTs: s.maxTs });
    return firstSeq;
  }

  async position(source: string): Promise<unknown> {
    const v = await this.db.get(`p!${source}`);
    return v === undefined ? undefined : cborDecoder.decode(v);
  }

  async replayStart(source: string, ts: number): Promise<{ seq: number; maxTsBefore: number }> {
    const s = await this.state(source);
    const i = firstIndexedFrom(s, ts);
    const seq = seqAt(s, i);
    // The newest-timestamp-so-far grows with the sequence: the indexed batch just before the
    // replay start holds the newest timestamp before it (none left: the newest trimmed one).
    for (let j = i - 1; j >= s.head; j--) if (s.list[j].n > 0) return { seq, maxTsBefore: s.list[j].maxTs };
    return { seq, maxTsBefore: s.trimmedMaxTs };
  }

  async *read(source: string, fromSeq: number): AsyncIterable<LoggedBatch> {
    // A batch starting before fromSeq may still hold records at or after it.
    let start = `b!${source}!`;
    for await (const key of this.db.keys({ gt: `b!${source}!`, lte: `b!${source}!${num(fromSeq)}`, reverse: true, limit: 1 })) start = key;
    for await (const [key, value] of this.db.iterator({ gte: start, lt: `b!${source}!~` })) {
      // Frames of version 1 (a log written before version 2) decode too, without reusable values.
      const { frame: f, values } = decodeFrameWithValues(value);
      const firstSeq = unnum(key.slice(key.lastIndexOf('!') + 1));
      if (firstSeq + f.messages.length <= fromSeq) continue;
      yield { firstSeq, clock: f.clock, records: f.messages, values };
    }
  }

  async seqForTimestamp(source: string, ts: number): Promise<number> {
    const s = await this.state(source);
    return seqAt(s, firstIndexedFrom(s, ts));
  }

  /**
   * Nothing is read: the batches and their index entries to delete are known in memory. (A scan of
   * the index would also have to start where the live data starts: deleted keys stay in LevelDB as
   * tombstones until a compaction, and a scan from the range start walks every one of them.)
   */
  trim(source: string, belowSeq: number): Promise<number> {
    // One at a time: a second trim would delete the first one's batches again and move `head` twice.
    const run = this.trimming.then(() => this.trimNow(source, belowSeq));
    this.trimming = run.catch(() => {});
    return run;
  }

  private async trimNow(source: string, belowSeq: number): Promise<number> {
    const s = await this.state(source);
    let removed = 0;
    let removedBytes = 0;
    let trimmedMaxTs = s.trimmedMaxTs;
    const ops = this.db.batch();
    // The batches to delete come from the in-memory list: reading them back and decoding each
    // for its record count took about a third of the edge's CPU at full rate.
    let i = s.head;
    for (; i < s.list.length; i++) {
      const b = s.list[i];
      if (b.seq + b.n > belowSeq) break;
      removed += b.n;
      removedBytes += b.bytes;
      // An empty batch (a clock step) takes no sequence numbers, so its key is the key of the next
      // batch appended, which overwrites it (perhaps being appended now): only batches with records
      // own their key. Their index entries go with them (the keys are known, nothing is read).
      if (b.n === 0) continue;
      const seqKey = num(b.seq);
      ops.del(`b!${source}!${seqKey}`);
      ops.del(`t!${source}!${num(b.maxTs)}!${seqKey}`);
      trimmedMaxTs = b.maxTs;
    }
    if (trimmedMaxTs !== s.trimmedMaxTs) ops.put(`m!${source}`, cborEncoder.encode(trimmedMaxTs));
    if (ops.length > 0) await ops.write();
    else await ops.close();
    // Only now (trims run one at a time; appends only add at the end, so `i` still holds).
    s.head = i;
    if (s.head > 1024 && s.head * 2 > s.list.length) {
      s.list.splice(0, s.head);
      s.head = 0;
    }
    s.trimmedMaxTs = trimmedMaxTs;
    s.records -= removed;
    s.bytes -= removedBytes;
    return removed;
  }

  async stats(source: string): Promise<SourceLogStats> {
    const { nextSeq, records, bytes, list, head } = await this.state(source);
    return { firstSeq: head < list.length ? list[head].seq : nextSeq, nextSeq, batches: list.length - head, records, bytes };
  }
}

/**
 * The first live batch with an index entry whose newest-timestamp-so-far is at or after `ts`
 * (list.length: none). maxTs never falls along the list, so a binary search finds the first
 * batch at or after `ts`; batches of no records, which have no index entry, are stepped over.
 */
function firstIndexedFrom(s: SourceState, ts: number): number {
  const { list } = s;
  let lo = s.head;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (list[mid].maxTs < ts) lo = mid + 1;
    else hi = mid;
  }
  while (lo < list.length && list[lo].n === 0) lo++;
  return lo;
}

/** The first sequence number of the batch at `i` in the list (its end: the next one appended). */
function seqAt(s: SourceState, i: number): number {
  return i < s.list.length ? s.list[i].seq : s.nextSeq;
}
