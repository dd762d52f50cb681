import type { Partitioner } from './partitioner.js';

/**
 * Direct/forward: task i sends to task i (modulo the downstream parallelism). With equal
 * parallelism this is a one-to-one pipe, which is what lets the planner fuse the two processors.
 */
export class ForwardPartitioner implements Partitioner {
  constructor(private readonly senderIndex = 0) {}
  select(_msg: unknown, partitions: number): number {
    return this.senderIndex % partitions;
  }
}
