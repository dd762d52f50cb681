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
  /**
   * The task's place among its processor's tasks sorted by index, set only when the assignment
   * lists the processor partially (see `AppAssignment.taskCounts`).
   */
  readonly position?: number;
}

export interface BundleRef {
  /** Hex sha256 of the bundle: its identity, verified after download. */
  readonly sha256: string;
  readonly url: string;
  /**
   * The master's Ed25519 signature over the digest (base64, see bundle-signature.ts): a node
   * evaluates the bundle only if it verifies with the master's public key. Optional on the wire
   * only so that a node can refuse an unsigned bundle loudly (per application) instead of
   * dropping the whole desired state.
   */
  readonly signature?: string;
}

export interface AppAssignment {
  readonly app: string;
  /** Session id: bumped on recovery; frames from other epochs are fenced off. */
  readonly epoch: number;
  /** Bumped on every change of `tasks`, so nodes can tell an update from a repeat. */
  readonly version: number;
  readonly bundle: BundleRef;
  readonly params: Readonly<Record<string, string>>;
  /**
   * The tasks this node needs: its own, and every task of each processor linked by an edge to
   * one of its own (the routes they need), not every task of the application (a fleet of 10,000
   * agents would otherwise get 10,000 tasks each).
   */
  readonly tasks: readonly TaskPlacement[];
  /**
   * Processors listed with only this node's tasks, by id: their task count in the application
   * (their parallelism); each of those tasks carries its `position`. Absent: every processor
   * listed is listed whole.
   */
  readonly taskCounts?: Readonly<Record<string, number>>;
  /** Identity of the submission: a resubmitted application starts afresh (old replay logs go). */
  readonly submission?: number;
  /** Exactly-once: checkpoints, and where to restart from. Absent: no checkpoints. */
  readonly checkpoint?: CheckpointAssignment;
}

export interface CheckpointAssignment {
  /** Event-time spacing of checkpoints, ms. */
  readonly intervalMs: number;
  /**
   * This epoch is a recovery: restore checkpoint `restoreFrom` (null: none completed yet, so
   * start empty) and replay sources from it. False on the first run of a submission.
   */
  readonly recovery: boolean;
  readonly restoreFrom: number | null;
  /** Encoded states of that checkpoint for this node's tasks, by task address. */
  readonly states?: Readonly<Record<string, Uint8Array>>;
}

/** A task's snapshot for checkpoint time t (topic `trib/<node>/ckpt`). */
export interface CheckpointReport {
  readonly app: string;
  readonly epoch: number;
  readonly processor: number;
  readonly index: number;
  readonly t: number;
  /** Encoded state; null when the task holds none (it still reports, for completeness). */
  readonly state: Uint8Array | null;
}

/** What the master publishes on `trib/master/clock/<app>` (retained). */
export interface AppClockMessage {
  readonly app: string;
  readonly clock: number;
  readonly at: number;
  /** The latest complete checkpoint: sources may trim their replay logs up to it. */
  readonly checkpoint?: { readonly epoch: number; readonly t: number };
}

/**
 * The agent binary a device should run (issue 16, self-update): set by the master's fleet rollouts
 * (cloud-core/src/master/rollouts/) and applied by the agent's updater (edge-agent/src/update/),
 * which downloads `url`, checks `sha256` and the master's Ed25519 `signature` (base64, over
 * agentSigningPayload(sha256), wire/agent-signature.ts) before it switches slots.
 */
export interface DesiredAgent {
  readonly version: string;
  readonly url: string;
  readonly sha256: string;
  readonly signature: string;
}

/**
 * A configuration an agent should run with (issue 16, `tributary fleet rollout config`): settings of
 * its config file (agentConfigSchema) laid over that file, except those that say who and where it
 * is (id, data, master, enrolment token), which a remote configuration may not change. Applied by
 * the agent's updater like a binary: verified, kept beside the previous one, tried, committed once
 * healthy, else the previous one comes back by itself.
 */
export interface DesiredConfig {
  /** Hex SHA-256 of `body`: the configuration's identity (its "version" in rollouts). */
  readonly sha256: string;
  /** A JSON object, UTF-8. */
  readonly body: Uint8Array;
  /** The master's Ed25519 signature over configSigningPayload(sha256), base64. */
  readonly signature: string;
}

/** What an agent says about its remote configuration (in AgentUpdateReport.config). */
export interface AgentConfigReport {
  /** SHA-256 of the remote configuration it runs with; 'none' when it runs with its file only. */
  readonly version: string;
  /** idle, trial (running a new one that must prove healthy), or how the last change to `target` ended. */
  readonly state: 'idle' | 'trial' | 'committed' | 'rolled-back' | 'failed';
  readonly target?: string;
  readonly reason?: string;
}

/** What an agent says about its own binary and its last update, in its hello and heartbeats. */
export interface AgentUpdateReport {
  /** The version label of the running binary (its slot's), as the rollout named it. */
  readonly version: string;
  /** process.arch: which binary the master offers it. */
  readonly arch: string;
  /** Whether it has slots at all (installed with install.sh); without, it cannot update itself. */
  readonly slots: boolean;
  /**
   * idle: nothing going on; downloading; trial: running a new version that must prove healthy;
   * committed / rolled-back / failed / interrupted: how the last update of `target` ended.
   */
  readonly state: 'idle' | 'downloading' | 'trial' | 'committed' | 'rolled-back' | 'failed' | 'interrupted';
  readonly target?: string;
  readonly reason?: string;
  /** Counts the agent's update state changes: the master tells a new report from a repeated one. */
  readonly seq?: number;
  /** Its remote configuration (absent: an agent that does not take one). */
  readonly config?: AgentConfigReport;
}

/**
 * A running application a worker does not host, to keep warm (hot standby, issue 14): the worker
 * fetches and verifies its bundle, starts its thread and evaluates it, and runs nothing. When tasks
 * of it are assigned here (a recovery moved them), the run starts in that thread at once.
 */
export interface StandbyApp {
  readonly app: string;
  /** The application's epoch when this was published (informational: a takeover brings its own). */
  readonly epoch: number;
  readonly bundle: BundleRef;
  readonly params: Readonly<Record<string, string>>;
  /** The submission it belongs to: a takeover of another submission starts cold. */
  readonly submission?: number;
}

export interface NodeDesiredState {
  readonly node: string;
  readonly apps: readonly AppAssignment[];
  /** Workers only: running applications it hosts no task of, to hold warm (absent: none). */
  readonly standby?: readonly StandbyApp[];
  /** Agents only: the binary to run (absent: keep whatever runs). */
  readonly agent?: DesiredAgent;
  /** Agents only: the remote configuration to run with (absent: keep whatever it runs with). */
  readonly config?: DesiredConfig;
  /**
   * The node's boot id (from its hello) this was meant for, when the master knew it. A node that
   * restarted ignores a retained desired state of its previous run: what that ran is lost, the
   * master recovers it in a new epoch and publishes a new one once it has seen the new hello.
   */
  readonly boot?: string;
}

/** What a node says about itself when it connects (topic hello). */
export interface NodeHello {
  readonly kind: 'worker' | 'agent';
  readonly labels: Readonly<Record<string, string>>;
  readonly slots: number;
  readonly version: string;
  /** The node's wall clock when it sent this, for the master to estimate clock offset. */
  readonly now: number;
  /**
   * Random per process start: a new value means the node restarted, and whatever it ran was lost
   * (the master then recovers its applications), even if the master never saw it go offline.
   */
  readonly boot?: string;
  /** Agents: their binary and update state (self-update). */
  readonly agent?: AgentUpdateReport;
  /** Its heartbeat period while it hosts no application (ms; absent: it always beats at its usual period). */
  readonly idleHeartbeatMs?: number;
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
  // Probes (source tasks report latency, not keys). All optional: reports from
  // nodes without them still parse.
  /**
   * Event-time latency over the last report interval (~1 s): the wall clock when a batch is
   * processed minus the event time of its last record, sampled once per batch. Absent when the
   * task processed no record in the interval. Meaningful only when event time follows the wall
   * clock (live sources); node clocks are not corrected for their offset.
   */
  readonly latencyMs?: LatencyPercentiles;
  /**
   * Processing latency over the last report interval: how long each batch waited in the task's
   * inbox plus its processing and I/O (a sink's write). Absent when no batch was processed.
   */
  readonly processingMs?: LatencyPercentiles;
  /** The same samples since the task started, bucketed (the master's Prometheus histograms). */
  readonly latencyBuckets?: LatencyBuckets;
  readonly processingBuckets?: LatencyBuckets;
  /**
   * The task's hottest input keys since it started, with approximate record counts (a
   * Space-Saving sketch over a ~1-in-16 sample, each sample counting 16), hottest first.
   */
  readonly topKeys?: readonly (readonly [key: string, count: number])[];
  /**
   * A source keeping a clock per device: the devices holding its clock back the most (lowest own
   * clock first), each with its newest on-time timestamp and its own clock (that minus its delay).
   */
  readonly clockLaggards?: readonly (readonly [device: string, newestTs: number, clock: number])[];
}

/** Percentiles of per-batch latency samples, ms. p50 <= p99 <= max. */
export interface LatencyPercentiles {
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
  /** Samples (batches) they are computed from. */
  readonly samples: number;
}

/** Latency samples in buckets, for histograms. */
export interface LatencyBuckets {
  /** Upper bounds of the buckets, ms, ascending. */
  readonly le: readonly number[];
  /** Samples per bucket (not cumulative); one more than `le`: the last counts those above it. */
  readonly counts: readonly number[];
  readonly sumMs: number;
  readonly count: number;
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
  /** Event-loop stalls the node's watchdog attributed to this application (inline hosting). */
  readonly stalls?: AppStalls;
}

/** Times an application blocked its node's event loop longer than the watchdog's threshold. */
export interface AppStalls {
  readonly count: number;
  /** The longest stall, ms, and the last one's wall-clock time (ms since the epoch). */
  readonly maxMs: number;
  readonly lastAt: number;
}

/** The node's own event loop (nodes that host applications inline). */
export interface NodeEventLoopReport {
  /** Stalls longer than the watchdog's threshold that no application's task call explains. */
  readonly unattributedStalls: number;
  /** Uncaught exceptions and unhandled rejections no application could be blamed for (logged). */
  readonly unattributedErrors: number;
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
  /** Present on nodes that host applications inline: what their watchdog saw. */
  readonly eventLoop?: NodeEventLoopReport;
  /** Desired states this node refused (they failed their schema) since it started. */
  readonly controlRejected?: number;
  /** Agents: their binary and update state (self-update). */
  readonly agent?: AgentUpdateReport;
  /** Bundles this node refused to evaluate since it started, by reason (unsigned, signature, sha256, no-key). */
  readonly bundleRejected?: Readonly<Record<string, number>>;
}

export type AppState = 'starting' | 'running' | 'finished' | 'failed';

/** Short task address on the wire: processor id and task index in one integer (Gearpump: 400 -> 20 bytes). */
export function taskAddress(processor: number, index: number): number {
  return processor * 65_536 + index;
}

export function fromTaskAddress(addr: number): { processor: number; index: number } {
  return { processor: Math.floor(addr / 65_536), index: addr % 65_536 };
}
