import { ALL_TASKS, type Partitioner } from './partitioner.js';

/** Every downstream task receives every message (e.g. rules or reference data). */
export class BroadcastPartitioner implements Partitioner {
  select(): number {
    return ALL_TASKS;
  }
}
