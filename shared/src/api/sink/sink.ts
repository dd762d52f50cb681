import type { Logger } from '../logger.js';
import type { ConnectorRef } from '../connector-ref.js';
import type { Message } from '../message.js';

export interface SinkContext {
  readonly taskIndex: number;
  readonly parallelism: number;
  readonly log: Logger;
  /**
   * Exactly-once is on: after a recovery, replayed results are emitted again, and the sink must
   * not pass them on twice (suppress what it already emitted, or write transactionally). Its
   * batch's I/O must be done when write() resolves: that is when the runtime reports the task's
   * checkpoint.
   */
  readonly exactlyOnce?: boolean;
  /** This run continues an earlier one of the same submission (a recovery): keep what is there. */
  readonly resume?: boolean;
  /** The application's and the sink processor's names: stable across restarts, for result ids. */
  readonly app?: string;
  readonly processor?: string;
}

/**
 * Where results leave an application. write() receives each input batch's messages; a
 * returned promise is awaited before the next batch, so a slow sink slows its producers
 * instead of growing memory. close() flushes and releases resources.
 */
export interface Sink<T = unknown> {
  open(ctx: SinkContext): void | Promise<void>;
  write(batch: readonly Message<T>[]): void | Promise<void>;
  /**
   * Exactly-once only: the sink's task snapshotted checkpoint time t, and every batch it received
   * before that is written. A replay from t re-emits no result with ts < t that the sink got
   * before this call, so a sink that remembers what it emitted may forget those (a checkpoint is
   * complete only once every task reported it: a recovery may still restore an earlier one).
   * Awaited like write(), before the runtime reports the checkpoint.
   */
  checkpoint?(t: number): void | Promise<void>;
  /**
   * Exactly-once only: the application's checkpoint t is complete, so no recovery restores an
   * earlier one and nothing before it is replayed. Arrives at any moment (also while a write() is
   * in flight): note it, do no I/O here.
   */
  checkpointComplete?(t: number): void;
  close(): void | Promise<void>;
}

export interface SinkSpec<T = unknown> {
  readonly kind: 'sink';
  readonly name: string;
  /** Most tasks this sink can run as (a single file: 1). */
  readonly maxParallelism: number;
  /** Built-in sources and sinks with I/O: the host supplies the implementation (createSource). */
  readonly connector?: ConnectorRef;
  create(): Sink<T>;
}
