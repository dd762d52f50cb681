/**
 * The shapes the dashboard, `GET /snapshot` and the SSE stream share. Kept free of runtime
 * imports so the browser bundle can import these types too.
 */
export type ClockJson = number | 'start' | 'end';

/** Percentiles of per-batch latency samples (ms) over a node's last report interval (~1 s). */
export interface LatencyStats {
  p50: number;
  p99: number;
  max: number;
  /** Batches sampled. */
  samples: number;
}

export interface TaskStats {
  index: number;
  node: string;
  kind: 'worker' | 'agent' | 'unknown';
  online: boolean;
  /** Totals since the task started, as its node reports them. */
  in: number;
  out: number;
  late: number;
  rejected: number;
  /** Batches waiting in the task's inbox now. */
  queued: number;
  inputClock: ClockJson;
  /** Records per second over the last sampling interval. */
  inRate: number;
  outRate: number;
  /**
   * Event-time latency: wall clock when a batch was processed minus its last record's event
   * time. null when the task processed no record in its node's last report interval.
   */
  latencyMs: LatencyStats | null;
  /** Processing latency: a batch's wait in the inbox plus its processing and I/O. */
  processingMs: LatencyStats | null;
  /** Hottest input keys since the task started, approximate records (sampled), hottest first. */
  topKeys: [key: string, count: number][];
  /** A source with a clock per device: the devices holding its clock back the most (lowest clock first). */
  clockLaggards: { device: string; newestTs: number; clock: number }[];
  /** Why the dashboard paints it red; null when healthy. */
  problem: string | null;
}

/** A hot key of a processor: which task owns it and its share of the processor's records. */
export interface HotKey {
  key: string;
  /** Approximate records since the task started. */
  count: number;
  task: number;
  node: string;
  /** count / the processor's records in (0..1). */
  share: number;
}

export interface ProcessorStats {
  id: number;
  name: string;
  parallelism: number;
  placement: { where: 'edge' | 'cloud' | 'any'; selector?: Record<string, string> };
  /** Where its tasks actually run: 'edge' (agents), 'cloud' (workers), 'mixed' or 'unplaced'. */
  runsOn: 'edge' | 'cloud' | 'mixed' | 'unplaced';
  in: number;
  out: number;
  rejected: number;
  backlog: number;
  inRate: number;
  outRate: number;
  /** Max task share of records in divided by the mean share: 1 = perfectly even. */
  skew: number;
  /** The slowest task's figures (each the max over the tasks; samples: the sum); null: none. */
  latencyMs: LatencyStats | null;
  processingMs: LatencyStats | null;
  /** The hottest keys over all its tasks (at most 10), hottest first. */
  hotKeys: HotKey[];
  /** A source with a clock per device: the devices holding its clock back the most, over all its tasks (at most 10). */
  clockLaggards: { device: string; newestTs: number; clock: number; task: number }[];
  tasks: TaskStats[];
  problem: string | null;
}

export interface EdgeStats {
  from: number;
  to: number;
  partitioner: string;
  kind: 'data' | 'late';
  /** Records per second leaving `from` (the flow rate drawn as edge width). */
  rate: number;
}

export interface AppStats {
  id: string;
  state: string;
  epoch: number;
  submittedAt: number;
  error: string | null;
  minClock: ClockJson;
  /** now - min-clock in ms, null before the first input or after the end. */
  lagMs: number | null;
  /** Records per second emitted by the source processors. */
  throughput: number;
  recordsIn: number;
  recordsOut: number;
  pending: { processor: number; reason: string }[];
  processors: ProcessorStats[];
  edges: EdgeStats[];
}

export interface NodeStats {
  id: string;
  kind: 'worker' | 'agent';
  labels: Record<string, string>;
  version: string;
  online: boolean;
  lastSeen: number;
  clockOffsetMs: number;
  slots: number;
  /** Tasks it hosts (any app), and the batches queued in them. */
  tasks: number;
  backlog: number;
  /** Its replay logs (nodes that host sources, from their heartbeat); null when not reported. */
  replayLog: ReplayLogStats | null;
  apps: Record<string, { state: string; tasks: string[] }>;
}

/** A node's replay logs, all applications together (NodeHeartbeat.replayLog). */
export interface ReplayLogStats {
  /** Records kept that the application has not checkpointed past (would be replayed). */
  backlogRecords: number;
  diskBytes: number;
  /** 0: no quota. */
  quotaBytes: number;
  /** Records the quota policy drop-oldest dropped (since the node started). */
  droppedRecords: number;
  /** A source is blocked by the quota policy `block` right now. */
  blocked: boolean;
}

export interface Snapshot {
  at: number;
  apps: AppStats[];
  nodes: NodeStats[];
  fleet: { online: number; offline: number; byLabel: { label: string; online: number; offline: number }[] };
  events: import('./events.js').ClusterEvent[];
}
