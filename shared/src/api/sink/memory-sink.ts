import type { Message } from '../message.js';
import type { SinkSpec } from './sink.js';

export interface MemorySinkSpec<T> extends SinkSpec<T> {
  /** Every message written, in write order, across all tasks of the sink. */
  readonly messages: Message<T>[];
  /** The values of `messages`. */
  values(): T[];
}

/** Collects results in memory: for tests of applications, and for embedding Tributary in a program. */
export function memorySink<T = unknown>(name = 'memory'): MemorySinkSpec<T> {
  const messages: Message<T>[] = [];
  return {
    kind: 'sink',
    name,
    maxParallelism: Number.MAX_SAFE_INTEGER,
    messages,
    values: () => messages.map((m) => m.value),
    create: () => ({
      open() {},
      write(batch) {
        for (const m of batch) messages.push(m);
      },
      close() {},
    }),
  };
}
