import type { Logger } from '../log.js';
import type { Message } from '../message.js';

export interface SinkContext {
  readonly taskIndex: number;
  readonly parallelism: number;
  readonly log: Logger;
}

/**
 * Where results leave an application. write() receives each input batch's messages; a
 * returned promise is awaited before the next batch, so a slow sink slows its producers
 * instead of growing memory. close() flushes and releases resources.
 */
export interface Sink<T = unknown> {
  open(ctx: SinkContext): void | Promise<void>;
  write(batch: readonly Message<T>[]): void | Promise<void>;
  close(): void | Promise<void>;
}

export interface SinkSpec<T = unknown> {
  readonly kind: 'sink';
  readonly name: string;
  /** Most tasks this sink can run as (a single file: 1). */
  readonly maxParallelism: number;
  create(): Sink<T>;
}
