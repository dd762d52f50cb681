import type { AppAssignment, AppState, AppStalls, TaskReport } from '../wire/assignment.js';
import type { Logger } from '../log/log.js';
import type { AppReplayStats } from './port-transport.js';
import type { MqttConnectSettings } from '../connectors/host-broker.js';

/** How a node hosts applications: `inline` on its own main thread, `thread` one worker thread each. */
export type Isolation = 'inline' | 'thread';

/** What the node knows about one hosted application (sent with its heartbeat). */
export interface AppStatus {
  state: AppState;
  tasks: TaskReport[];
  wire: Record<string, number>;
  replay?: AppReplayStats;
  /** `[CODE] message` once the application failed. */
  error?: string;
  /** Event-loop stalls the watchdog attributed to this application (inline only). */
  stalls?: AppStalls;
}

/** Everything a host needs to run one application for a node. */
export interface AppHostOptions {
  assignment: AppAssignment;
  bundlePath: string;
  nodeId: string;
  labels: Record<string, string>;
  logLevel: string;
  replay?: { dir: string; quotaBytes: number; policy: 'block' | 'drop-oldest' };
  /** The node's broker connection: MQTT connectors without a URL use it (connectors/host-broker.ts). */
  broker?: MqttConnectSettings;
  /** Thread isolation: the thread's heap cap, MB (absent: V8's default). */
  heapMb?: number;
  /**
   * Start as a hot standby (issue 14): evaluate the bundle and build the graph (in the thread, or
   * inline on the main thread), and run nothing until update() brings an assignment with tasks.
   */
  standby?: boolean;
  /** Publishes on the node's one MQTT connection. */
  publish: (topic: string, payload: Uint8Array, qos: 0 | 1, retain: boolean) => void;
  log: Logger;
  /** The status changed (state, error): the node sends a heartbeat at once. */
  onChange: () => void;
}

/**
 * One application as the node (NodeAgent) sees it, however it is isolated: ThreadApp runs it in a
 * worker thread, InlineApp on the node's main thread. The node starts it, relays the messages of
 * its topics to it, updates or stops it when the master's desired state changes, and reports its
 * status. An application that fails is failed alone: the host reports it, the node goes on.
 */
export interface AppHost {
  readonly app: string;
  /** The assignment it runs (replaced by a successful update). */
  readonly assignment: AppAssignment;
  readonly status: AppStatus;
  /** Resolves once nothing of the application runs any more (stopped, or its thread died). */
  readonly exited: Promise<void>;
  start(): void;
  /** A message on one of the application's topics (data, credit, clock). */
  deliver(topic: string, payload: Uint8Array): void;
  /** Tries to apply a new assignment without a restart; false means restart. */
  update(assignment: AppAssignment): Promise<boolean>;
  /** Aborts the application and releases what it holds (replay log); bounded in time. */
  stop(): Promise<void>;
}

/** Sets a host's state once it changed, keeping the first failure (a failed app stays failed). */
export function setAppState(status: AppStatus, app: string, state: AppState, error: string | undefined, log: Logger, onChange: () => void): void {
  if (status.state === 'failed') return;
  status.state = state;
  if (error) status.error = error;
  if (state === 'failed') log.error({ app, error }, 'application failed');
  else log.info({ app, state }, `application ${state}`);
  onChange();
}

/** Same application, bundle, submission and params: a standby (or a loaded run) of one can run the other. */
export function sameSubmission(a: Pick<AppAssignment, 'app' | 'bundle' | 'params' | 'submission'>, b: Pick<AppAssignment, 'app' | 'bundle' | 'params' | 'submission'>): boolean {
  return a.app === b.app && a.bundle.sha256 === b.bundle.sha256 && a.submission === b.submission && JSON.stringify(a.params) === JSON.stringify(b.params);
}
