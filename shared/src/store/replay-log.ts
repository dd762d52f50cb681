import type { Message } from '../message.js';

/** One appended batch, as read back. */
export interface LoggedBatch {
  readonly firstSeq: number;
  /** The source's clock after this batch. */
  readonly clock: number;
  readonly records: readonly Message[];
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
  /** Appends a batch; resolves once it is durable, with the sequence number of its first record. */
  append(source: string, records: readonly Message[], clock: number): Promise<number>;
  /** Batches holding records with sequence numbers >= fromSeq, oldest first. */
  read(source: string, fromSeq: number): AsyncIterable<LoggedBatch>;
  /**
   * The first sequence number from which a replay sees every record with ts >= `ts`: the start of
   * the first batch after which the newest timestamp seen had reached `ts`. One index lookup.
   */
  seqForTimestamp(source: string, ts: number): Promise<number>;
  /** Drops every batch whose records are all below `belowSeq`; returns how many records went. */
  trim(source: string, belowSeq: number): Promise<number>;
  stats(source: string): Promise<SourceLogStats>;
}
