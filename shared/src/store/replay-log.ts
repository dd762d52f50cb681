import type { Message } from '../api/message.js';
import type { EncodedValues } from '../wire/frame-v2.js';

/** One appended batch, as read back. */
export interface LoggedBatch {
  readonly firstSeq: number;
  /** The source's clock after this batch. */
  readonly clock: number;
  readonly records: readonly Message[];
  /**
   * The records' values as the log stored them (LevelReplayLog, frames of version 2): a remote
   * channel sending these values on reuses the bytes instead of encoding them again.
   */
  readonly values?: EncodedValues | null;
}

export interface SourceLogStats {
  /** Sequence number of the oldest record still in the log (= nextSeq when empty). */
  readonly firstSeq: number;
  /** Sequence number the next appended record gets (= records ever appended). */
  readonly nextSeq: number;
  readonly batches: number;
  readonly records: number;
  /** Encoded size of what is kept, bytes. */
  readonly bytes: number;
}

/**
 * The durable record of everything a source emitted, so that any part of an application can fail
 * and be replayed. Sources append a batch before emitting it ("log first, then send"); recovery
 * reads from a sequence number or from a clock; batches are trimmed once a checkpoint and the
 * min-clock have passed them. One value per batch, never one per record.
 *
 * Sequence numbers count records per source from 0 and survive restarts. Implementations:
 * LevelReplayLog (on disk) and MemoryReplayLog; test/replay-log.test.ts runs one suite on both.
 */
export interface ReplayLog {
  open(): Promise<void>;
  close(): Promise<void>;
  /**
   * Appends a batch; resolves once it is durable, with the sequence number of its first record.
   * `position` (the source's read position after this batch) is stored in the same atomic write,
   * so after a crash the source resumes exactly after what the log holds. `values`, the records'
   * values already encoded (encodeValues), is stored as it is instead of encoding them again.
   */
  append(source: string, records: readonly Message[], clock: number, position?: unknown, values?: EncodedValues | null): Promise<number>;
  /** The position stored with the last append, or undefined. */
  position(source: string): Promise<unknown>;
  /** Batches holding records with sequence numbers >= fromSeq, oldest first. */
  read(source: string, fromSeq: number): AsyncIterable<LoggedBatch>;
  /**
   * The first sequence number from which a replay sees every record with ts >= `ts`: the start of
   * the first batch after which the newest timestamp seen had reached `ts`. One index lookup.
   */
  seqForTimestamp(source: string, ts: number): Promise<number>;
  /**
   * Where a replay from clock `ts` starts (as seqForTimestamp) and the newest timestamp the source
   * had seen before that point (-Infinity if none), so a replay rebuilds the source's watermark
   * and makes the same late/on-time decisions as the original run.
   */
  replayStart(source: string, ts: number): Promise<{ seq: number; maxTsBefore: number }>;
  /** Drops every batch whose records are all below `belowSeq`; returns how many records went. */
  trim(source: string, belowSeq: number): Promise<number>;
  stats(source: string): Promise<SourceLogStats>;
}

/** The replay log of this node's part of an application. */
export interface PartReplayLog {
  readonly log: ReplayLog;
  open(): Promise<void>;
  close(): Promise<void>;
  diskBytes(): Promise<number>;
}
