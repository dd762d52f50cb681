import type { TaskReport } from '../wire/assignment.js';
import { KeySampler } from './heavy-hitters.js';
import { LatencyHistogram } from './latency-histogram.js';

/** Counters of one task, read by the runtime's summary, the API and /metrics. */
export interface TaskCounters {
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

/**
 * A task's counters and its cheap probes. The probes are fed once per batch (latency) or on a
 * ~1-in-16 sample of messages (keys) by channel-fed tasks; source tasks feed latency only.
 */
export interface TaskMetrics extends TaskCounters {
  /** Event-time latency: wall clock when a batch is processed minus its last record's event time. */
  readonly eventLatency: LatencyHistogram;
  /** Processing latency: time a batch waited in the inbox plus its processing and I/O. */
  readonly processingLatency: LatencyHistogram;
  /** Approximate counts of the hottest input keys. */
  readonly keys: KeySampler;
  /** The probes' part of a report (takeProbeReport): starts a new latency interval. */
  takeProbeReport(): ProbeReport;
}

export function newTaskMetrics(seed = 1): TaskMetrics {
  const m: TaskMetrics = {
    in: 0, out: 0, late: 0, rejected: 0, batches: 0, maxQueued: 0,
    eventLatency: new LatencyHistogram(), processingLatency: new LatencyHistogram(), keys: new KeySampler(seed),
    takeProbeReport: () => takeProbeReport(m),
  };
  return m;
}

export type ProbeReport = Pick<TaskReport, 'latencyMs' | 'processingMs' | 'latencyBuckets' | 'processingBuckets' | 'topKeys'>;

/**
 * The probes' part of a task's report: percentiles since the previous call (this starts a new
 * interval), cumulative buckets, top keys. Fields without data are left out, not undefined.
 */
export function takeProbeReport(m: TaskMetrics): ProbeReport {
  const out: { -readonly [K in keyof ProbeReport]: ProbeReport[K] } = {};
  const latency = m.eventLatency.takePercentiles();
  const processing = m.processingLatency.takePercentiles();
  const latencyBuckets = m.eventLatency.buckets();
  const processingBuckets = m.processingLatency.buckets();
  if (latency) out.latencyMs = latency;
  if (processing) out.processingMs = processing;
  if (latencyBuckets) out.latencyBuckets = latencyBuckets;
  if (processingBuckets) out.processingBuckets = processingBuckets;
  if (m.keys.sketch.size > 0) out.topKeys = m.keys.sketch.top();
  return out;
}
