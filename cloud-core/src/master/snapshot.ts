/**
 * The shapes the dashboard, `GET /snapshot` and the SSE stream share. Kept free of runtime
 * imports so the browser bundle can import these types too.
 */
export type ClockJson = number | 'start' | 'end';

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
  /** Why the dashboard paints it red; null when healthy. */
  problem: string | null;
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
  apps: Record<string, { state: string; tasks: string[] }>;
}

export interface Snapshot {
  at: number;
  apps: AppStats[];
  nodes: NodeStats[];
  fleet: { online: number; offline: number; byLabel: { label: string; online: number; offline: number }[] };
  events: import('./events.js').ClusterEvent[];
}
