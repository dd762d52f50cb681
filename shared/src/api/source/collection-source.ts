import type { Message } from '../message.js';
import type { Source, SourceSpec } from './source.js';
import type { WatermarkSpec } from '../clock/watermark.js';

export interface CollectionSourceOptions {
  name?: string;
  maxDelayMs?: number;
  /** A clock per device (the message key, or `deviceOf`): see WatermarkSpec. */
  perDevice?: boolean;
  deviceOf?: WatermarkSpec['deviceOf'];
  deviceDelayMs?: WatermarkSpec['deviceDelayMs'];
}

/**
 * A bounded source over records in memory, emitted in the given order (Flink's fromCollection):
 * for examples and for testing applications without files or brokers.
 */
export function collectionSource<T>(records: readonly Message<T>[], options: CollectionSourceOptions = {}): SourceSpec<T> {
  return {
    kind: 'source',
    name: options.name ?? `collection(${records.length})`,
    watermark: {
      maxDelayMs: options.maxDelayMs ?? 0,
      ...(options.perDevice || options.deviceOf ? { perDevice: true, deviceOf: options.deviceOf, deviceDelayMs: options.deviceDelayMs } : {}),
    },
    maxParallelism: 1,
    create: (): Source<T> => {
      let next = 0;
      return {
        open() {},
        async read(max) {
          if (next >= records.length) return null;
          const end = Math.min(records.length, next + max);
          const out = records.slice(next, end).map((m) => ({ ...m }));
          next = end;
          return out;
        },
        close() {},
      };
    },
  };
}
