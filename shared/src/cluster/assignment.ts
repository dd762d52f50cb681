/**
 * The contract between the master and the nodes that host an application's tasks. The master
 * publishes each node's desired state (retained, so a node that reconnects gets it at once); a
 * node reconciles what it runs with it. Everything here is plain data, CBOR on the wire.
 */

/** Where one task runs. */
export interface TaskPlacement {
  readonly processor: number;
  readonly index: number;
  readonly node: string;
}

export interface BundleRef {
  /** Hex sha256 of the bundle: its identity, verified after download. */
  readonly sha256: string;
  readonly url: string;
}

export interface AppAssignment {
  readonly app: string;
  /** Session id: bumped on recovery; frames from other epochs are fenced off. */
  readonly epoch: number;
  /** Bumped on every change of `tasks`, so nodes can tell an update from a repeat. */
  readonly version: number;
  readonly bundle: BundleRef;
  readonly params: Readonly<Record<string, string>>;
  /** Every task of the application (not only this node's), so a node can route to the others. */
  readonly tasks: readonly TaskPlacement[];
}

export interface NodeDesiredState {
  readonly node: string;
  readonly apps: readonly AppAssignment[];
}

/** What a node says about itself when it connects (topic hello). */
export interface NodeHello {
  readonly kind: 'worker' | 'agent';
  readonly labels: Readonly<Record<string, string>>;
  readonly slots: number;
  readonly version: string;
  /** The node's wall clock when it sent this, for the master to estimate clock offset. */
  readonly now: number;
}

/** One task's counters and clock, as its node reports them. */
export interface TaskReport {
  readonly processor: number;
  readonly index: number;
  readonly in: number;
  readonly out: number;
  readonly late: number;
  readonly rejected: number;
  /** Batches waiting in the task's inbox now, and the most there ever were. */
  readonly queued: number;
  readonly maxQueued: number;
  /** The task's input min-clock (ms; ±Infinity before the first input / after the last). */
  readonly inputClock: number;
}

/** What a node says about one application it runs. */
export interface AppReport {
  /** The epoch the report is about: a report from an earlier run of the app is not this run's. */
  readonly epoch: number;
  readonly state: AppState;
  readonly tasks: readonly TaskReport[];
  /** Wire counters of the node's part: frames in/out, rejected, fenced, duplicates, gaps. */
  readonly wire: Readonly<Record<string, number>>;
  readonly error?: string;
}

/** The node's replay logs (all applications together), for the fleet view and /metrics. */
export interface ReplayLogReport {
  /** Records kept on disk that the application has not yet checkpointed past (replayable). */
  readonly backlogRecords: number;
  /** Bytes the replay logs take on disk (LevelDB's own estimate). */
  readonly diskBytes: number;
  /** The node's disk quota for replay logs; 0 = no quota. */
  readonly quotaBytes: number;
  /** Records dropped by the quota policy `drop-oldest` (never silently: counted here). */
  readonly droppedRecords: number;
  /** Whether a source is blocked right now by the quota policy `block`. */
  readonly blocked: boolean;
}

/** What a node reports with each heartbeat. */
export interface NodeHeartbeat {
  readonly now: number;
  readonly apps: Readonly<Record<string, AppReport>>;
  /** Present on nodes that host sources (edge agents): their replay logs' state. */
  readonly replayLog?: ReplayLogReport;
}

export type AppState = 'starting' | 'running' | 'finished' | 'failed';

/** Short task address on the wire: processor id and task index in one integer (Gearpump: 400 -> 20 bytes). */
export function taskAddress(processor: number, index: number): number {
  return processor * 65_536 + index;
}

export function fromTaskAddress(addr: number): { processor: number; index: number } {
  return { processor: Math.floor(addr / 65_536), index: addr % 65_536 };
}
