/** Counters of one task, read by the runtime's summary, the API and /metrics. */
export interface TaskMetrics {
  /** Records received (or read from the source). */
  in: number;
  /** Records emitted downstream. */
  out: number;
  /** Records diverted to the late-data output because they arrived behind the clock. */
  late: number;
  /** Source records rejected as malformed (bad JSON, no valid timestamp). */
  rejected: number;
  /** Input batches processed. */
  batches: number;
  /** Deepest the task's inbox has been, in batches: bounded by credits when flow control works. */
  maxQueued: number;
}

export function newTaskMetrics(): TaskMetrics {
  return { in: 0, out: 0, late: 0, rejected: 0, batches: 0, maxQueued: 0 };
}
