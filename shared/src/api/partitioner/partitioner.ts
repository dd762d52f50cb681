import type { Message } from '../message.js';

/** Sentinel returned by a partitioner that sends a message to every downstream task. */
export const ALL_TASKS = -1;

/**
 * Chooses which downstream task receives a message. One instance per sending task (a
 * partitioner may keep state, e.g. a round-robin cursor). Called on the hot path: no allocation.
 */
export interface Partitioner {
  /** Index in [0, partitions) of the receiving task, or ALL_TASKS. */
  select(msg: Message, partitions: number): number;
}

export type PartitionerType = 'hash' | 'shuffle' | 'broadcast' | 'forward';

/** The serialisable description of an edge's partitioner, as stored in a DAG. */
export interface PartitionerSpec {
  readonly type: PartitionerType;
}
