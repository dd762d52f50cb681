import type { Message } from '../api/message.js';
import type { ReplayLog } from '../store/replay-log.js';
import { encodeValues, valuesOf, type EncodedValues } from '../wire/frame-v2.js';
import { systemClock, type Clock } from './wall-clock.js';

/** A batch of source records with its place in the source's sequence. */
export interface FeedBatch {
  readonly firstSeq: number;
  readonly records: readonly Message[];
  /** The records' values as the replay log stored them (with a log only): sent on as they are. */
  readonly values?: EncodedValues | null;
}

/** What happens when a source's replay log reaches its disk quota. */
export type QuotaPolicy = 'block' | 'drop-oldest';

export interface ReplayOptions {
  readonly log: ReplayLog;
  /** The source's name in the log (its task address). */
  readonly name: string;
  /** 0 = no quota. */
  readonly quotaBytes: number;
  readonly policy: QuotaPolicy;
}

/** Counters of one source's log, for the node's heartbeat. */
export interface FeedStats {
  backlogRecords: number;
  bytes: number;
  dropped: number;
  blocked: boolean;
}

/** Records kept in memory for the emitter (whole batches); beyond this they are read back from the log. */
const MEMORY_RECORDS = 65_536;
/**
 * What a source's read aims at, in encoded bytes (sources with a replay log; readSize). 4,096
 * fleet records of ~55 bytes: large enough that per-batch costs are small per record, far below
 * the frame limit (16 MiB), and a batch of big records stays small in records.
 */
export const TARGET_BATCH_BYTES = 256 * 1024;
/** Reads before anything is known about the records' size (and always without a replay log): the batch size of earlier releases. */
export const FIRST_READ_RECORDS = 1024;
/** A batch of this many records replaces readSize's estimate; smaller ones move it in proportion. */
const ESTIMATE_RECORDS = 2048;
/** A paced reader waits this long for the emitter to take a batch before it goes on alone. */
export const PACE_WAIT_MS = 100;

/**
 * Store-and-forward between a source and its task (log first, then send). A reader loop takes
 * batches from the source and appends them to the replay log whatever the downstream credit:
 * while the uplink is down the device keeps recording. The task's emitter consumes the same
 * sequence, from memory when it keeps up and from the log when it fell behind, so a backlog is
 * forwarded in order once the link returns. Without a log it is a bounded in-memory hand-off.
 *
 * Pacing (`pace`: a source that can resume from a position, so a record it has not yet handed
 * over is safe in the source: generators, files). A reader far ahead of an emitter that keeps
 * taking batches would otherwise leave every later batch to be read back from the log and decoded
 * again (under full load, every batch: a tenth of an agent's CPU). Such a reader waits for room
 * in memory while the emitter makes progress; when the emitter takes nothing for PACE_WAIT_MS
 * (no credit: the uplink is down, the cloud is slow) the reader stops waiting and records into
 * the log alone, store-and-forward as before, until the emitter takes a batch again. A source
 * without a position (an MQTT subscription) is never paced: its records are safe only once logged.
 */
export class SourceFeed {
  readonly stats: FeedStats = { backlogRecords: 0, bytes: 0, dropped: 0, blocked: false };
  private readonly queue: FeedBatch[] = [];
  /** Sequence number the next appended batch gets. */
  private appended = 0;
  /** Oldest sequence number still in the log. */
  private oldest = 0;
  private ended = false;
  private failure: unknown = null;
  private wake: (() => void) | null = null;
  private space: (() => void) | null = null;
  private logIt: AsyncIterator<FeedBatch> | null = null;
  private logItNext = -1;
  private bytesPerRecord = 64;
  /** Encoded bytes per record of recent batches (readSize); unknown until a batch was encoded. */
  private encodedPerRecord = 0;
  private queuedRecords = 0;
  /** Pacing: the emitter took nothing for PACE_WAIT_MS; the reader runs alone until it does. */
  private emitterStalled = false;

  constructor(
    private readonly replay: ReplayOptions | null,
    private readonly clock: Clock = systemClock,
    private readonly pace = false,
    /** Records kept in memory for the emitter (whole batches; default MEMORY_RECORDS). */
    private readonly memoryRecords = MEMORY_RECORDS,
  ) {}

  /** Opens the log side; returns where the source should resume reading (its stored position). */
  async open(): Promise<unknown> {
    if (!this.replay) return undefined;
    const { log, name } = this.replay;
    const s = await log.stats(name);
    this.appended = s.nextSeq;
    this.oldest = s.firstSeq;
    this.calibrate(s.bytes, s.records);
    return log.position(name);
  }

  /** The first sequence number to emit for a restart from checkpoint time `from`, and the newest ts before it. */
  async replayStart(from: number): Promise<{ seq: number; maxTsBefore: number }> {
    if (!this.replay) return { seq: 0, maxTsBefore: -Infinity };
    if (from === -Infinity) return { seq: this.oldest, maxTsBefore: -Infinity };
    return this.replay.log.replayStart(this.replay.name, from);
  }

  /**
   * Reader side: how many records the next read should take at most. With a replay log, as many
   * as make TARGET_BATCH_BYTES at the encoded size per record seen so far (within [1, max]); the
   * first reads, and every read without a log (nothing encodes the records here), take
   * FIRST_READ_RECORDS.
   */
  readSize(max: number): number {
    const n = this.encodedPerRecord > 0 ? Math.floor(TARGET_BATCH_BYTES / this.encodedPerRecord) : FIRST_READ_RECORDS;
    return Math.max(1, Math.min(max, n));
  }

  /** Reader side: records one batch. Resolves once it is durable (and there is room, if blocking). */
  async push(records: readonly Message[], clock: number, position: unknown): Promise<void> {
    if (!this.replay) {
      while (this.queuedRecords >= this.memoryRecords) await new Promise<void>((r) => (this.space = r));
      this.enqueue({ firstSeq: this.appended, records });
      this.appended += records.length;
      return this.signal();
    }
    if (this.pace) await this.roomAhead();
    await this.enforceQuota();
    const { log, name } = this.replay;
    // Encode once: the log stores these bytes, and the task's remote channel sends them on.
    const values = encodeValues(valuesOf(records));
    this.noteEncoded(values.bytes.length, records.length);
    const firstSeq = await log.append(name, records, clock, position, values);
    this.appended = firstSeq + records.length;
    this.stats.backlogRecords += records.length;
    // Estimated between trims (each trim re-reads the exact size from the log).
    this.stats.bytes += records.length * this.bytesPerRecord;
    if (this.queuedRecords < this.memoryRecords) this.enqueue({ firstSeq, records, values });
    this.signal();
  }

  /** Reader side: the source ended (or failed). */
  end(err?: unknown): void {
    this.ended = true;
    if (err) this.failure = err;
    this.signal();
  }

  /** Emitter side: the batch starting at `seq`, or null once the source ended and all is emitted. */
  async next(seq: number): Promise<FeedBatch | null> {
    for (;;) {
      if (this.failure) throw this.failure;
      while (this.queue.length > 0 && this.queue[0].firstSeq < seq) this.dequeue();
      if (this.queue.length > 0 && this.queue[0].firstSeq === seq) return this.dequeue();
      if (seq < this.appended && this.replay) {
        const b = await this.fromLog(seq);
        if (b) {
          this.tookBatch();
          return b;
        }
      }
      if (this.ended && seq >= this.appended) return null;
      await new Promise<void>((r) => (this.wake = r));
    }
  }

  /** Drops what checkpoint t no longer needs (everything before the replay start of t). */
  async trim(t: number, emitted: number): Promise<void> {
    if (!this.replay) return;
    const { seq } = await this.replay.log.replayStart(this.replay.name, t);
    const below = Math.min(seq, emitted);
    if (below <= this.oldest) return;
    await this.drop(below);
  }

  private async drop(below: number): Promise<number> {
    const { log, name } = this.replay!;
    const removed = await log.trim(name, below);
    const s = await log.stats(name);
    this.oldest = s.firstSeq;
    this.calibrate(s.bytes, s.records);
    return removed;
  }

  private calibrate(bytes: number, records: number): void {
    this.stats.bytes = bytes;
    this.stats.backlogRecords = records;
    if (records > 0) this.bytesPerRecord = bytes / records;
  }

  private async enforceQuota(): Promise<void> {
    const { quotaBytes, policy } = this.replay!;
    if (quotaBytes <= 0 || this.stats.bytes < quotaBytes) return;
    if (policy === 'drop-oldest') {
      // Oldest batches go until a tenth of the quota is free again: counted, never silent.
      const target = quotaBytes * 0.9;
      const s = await this.replay!.log.stats(this.replay!.name);
      const perRecord = s.records > 0 ? s.bytes / s.records : 1;
      const excess = Math.ceil((s.bytes - target) / perRecord);
      this.stats.dropped += await this.drop(this.oldest + Math.max(1, excess));
      return;
    }
    this.stats.blocked = true;
    while (this.stats.bytes >= quotaBytes && !this.ended) await new Promise<void>((r) => this.clock.setTimeout(r, 100));
    this.stats.blocked = false;
  }

  private async fromLog(seq: number): Promise<FeedBatch | null> {
    if (!this.logIt || this.logItNext !== seq) {
      await this.logIt?.return?.();
      this.logIt = this.replay!.log.read(this.replay!.name, seq)[Symbol.asyncIterator]();
    }
    for (;;) {
      const r = await this.logIt.next();
      if (r.done) {
        this.logIt = null;
        return null;
      }
      const b = r.value;
      if (b.firstSeq + b.records.length <= seq) continue;
      if (b.firstSeq < seq) {
        // Trimmed by drop-oldest in the middle of a batch cannot happen (trim is per batch);
        // a batch starting before seq is one the emitter already has: skip its head.
        const cut = { firstSeq: seq, records: b.records.slice(seq - b.firstSeq) };
        this.logItNext = seq + cut.records.length;
        return cut;
      }
      this.logItNext = b.firstSeq + b.records.length;
      return b;
    }
  }

  /**
   * Pacing: waits for room in memory while the emitter takes batches (see the class comment).
   * Any batch the emitter takes is progress, from memory or from the log: after a stall the
   * emitter reads what was logged meanwhile before it reaches the batches in memory, and a reader
   * that counted only memory would time out again and again and never be paced again.
   */
  private async roomAhead(): Promise<void> {
    while (!this.emitterStalled && this.queuedRecords >= this.memoryRecords) {
      const progressed = await new Promise<boolean>((resolve) => {
        const timer = this.clock.setTimeout(() => {
          this.space = null;
          resolve(false);
        }, PACE_WAIT_MS);
        this.space = () => {
          timer.cancel();
          resolve(true);
        };
      });
      if (!progressed) this.emitterStalled = true;
    }
  }

  /** The emitter took a batch: a waiting reader looks again (pacing, or the bounded hand-off). */
  private tookBatch(): void {
    this.emitterStalled = false;
    const s = this.space;
    this.space = null;
    s?.();
  }

  /**
   * Size per record of a batch just encoded, averaged over recent batches by records (a batch of
   * 1 record moves the average little, one of thousands replaces most of it).
   */
  private noteEncoded(bytes: number, records: number): void {
    if (records === 0) return;
    const perRecord = bytes / records;
    if (this.encodedPerRecord === 0) {
      this.encodedPerRecord = perRecord;
      return;
    }
    const w = Math.min(1, records / ESTIMATE_RECORDS);
    this.encodedPerRecord += (perRecord - this.encodedPerRecord) * w;
  }

  private enqueue(b: FeedBatch): void {
    this.queue.push(b);
    this.queuedRecords += b.records.length;
  }

  private dequeue(): FeedBatch {
    const b = this.queue.shift()!;
    this.queuedRecords -= b.records.length;
    this.tookBatch();
    return b;
  }

  private signal(): void {
    const w = this.wake;
    this.wake = null;
    w?.();
  }
}
