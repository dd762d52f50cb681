import type { Partitioner } from './partitioner.js';

/**
 * Round-robin: spreads load evenly regardless of keys. Each sender starts at a different offset
 * (its own index) so that N senders do not all hit task 0 first.
 */
export class ShufflePartitioner implements Partitioner {
  private next: number;
  constructor(senderIndex = 0) {
    this.next = senderIndex;
  }
  select(_msg: unknown, partitions: number): number {
    const i = this.next % partitions;
    this.next = i + 1;
    return i;
  }
}
