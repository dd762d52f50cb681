import type { Message } from '../message.js';
import type { Partitioner } from './partitioner.js';

/**
 * Hash by key (group-by): every message with the same key goes to the same task, on every host,
 * so the hash must be stable across processes: FNV-1a over the key's string form, never
 * object identity or a per-process seed.
 */
export class HashPartitioner implements Partitioner {
  select(msg: Message, partitions: number): number {
    if (partitions === 1) return 0;
    return hashKey(msg.key) % partitions;
  }
}

/** FNV-1a 32-bit of the key's canonical string form; non-negative. */
export function hashKey(key: unknown): number {
  const s = typeof key === 'string' ? key : canonicalKeyString(key);
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

function canonicalKeyString(key: unknown): string {
  if (typeof key === 'number' || typeof key === 'bigint' || typeof key === 'boolean') return `${typeof key}:${key}`;
  if (key === undefined || key === null) return '';
  return JSON.stringify(key);
}
