import { performance } from 'node:perf_hooks';
import { resolveApp } from '../api/app/app-definition.js';
import { Params } from '../api/app/params.js';
import type { Graph } from '../api/dag/graph.js';
import { ErrorCodes } from '../api/errors.js';
import { createConnectors } from '../connectors/index.js';
import type { MqttConnectSettings } from '../connectors/host-broker.js';
import type { Logger } from '../log/log.js';
import { AppRuntime } from '../runtime/app-runtime.js';
import { SourceTaskRunner } from '../runtime/source-task-runner.js';
import { AppReplayLog } from '../store/app-replay-log.js';
import type { PartReplayLog } from '../store/replay-log.js';
import type { AppAssignment, AppState, TaskReport } from '../wire/assignment.js';
import type { Transport } from '../wire/transport.js';
import { loadBundle } from './app-bundle.js';
import type { AppReplayStats } from './port-transport.js';

/** Where and how one application runs on a node: what both hosts (thread, inline) pass in. */
export interface AppSessionOptions {
  bundlePath: string;
  assignment: AppAssignment;
  nodeId: string;
  labels: Record<string, string>;
  /** Replay logs for the sources (log first, then send); absent: off. */
  replay?: { dir: string; quotaBytes: number; policy: 'block' | 'drop-oldest' };
  /** The node's broker connection, for MQTT connectors that name no URL (absent: mqtt://127.0.0.1:1883). */
  broker?: MqttConnectSettings;
  transport: Transport;
  log: Logger;
  /** Lets the host wrap the graph before it runs (the inline host times task calls). */
  wrapGraph?: (graph: Graph) => Graph;
  /**
   * The graph already built from the bundle with these params, by a standby thread
   * (prepareGraph): the run starts without evaluating the bundle again. Used by one run only.
   */
  graph?: Graph;
}

/** What a session tells its host: state changes and, every second, its counters. */
export interface AppSessionEvents {
  state(state: Exclude<AppState, 'starting'>, error?: { code: string; message: string }): void;
  stats(tasks: TaskReport[], wire: Record<string, number>, replay?: AppReplayStats): void;
}

const STATS_EVERY_MS = 1000;

/**
 * One run of one application on a node, whatever hosts it: loads the bundle (the host's API as
 * `tributary`), builds the AppRuntime from the assignment, starts it, reports its state and
 * stats, and stops it. The worker-thread entry (app-thread.ts) and the inline host
 * (inline-app.ts) both drive one of these; only the transport and the event delivery differ.
 */
export class AppSession {
  runtime: AppRuntime | null = null;
  private statsTimer: NodeJS.Timeout | null = null;
  private closing: Promise<void> | null = null;
  private failed = false;
  private stopped = false;
  private ended = false;

  constructor(private readonly options: AppSessionOptions, private readonly events: AppSessionEvents) {}

  /** The whole life: resolves when the application finished, failed or was stopped. */
  async run(): Promise<void> {
    const o = this.options;
    try {
      const graph = o.graph ?? await prepareGraph(o.bundlePath, o.assignment);
      if (this.stopped) return;
      const replay = o.replay
        ? { log: new ClosingReplayLog(new AppReplayLog(o.replay.dir, o.assignment.submission ?? 0, o.log)), quotaBytes: o.replay.quotaBytes, policy: o.replay.policy }
        : undefined;
      const rt = new AppRuntime({
        graph: o.wrapGraph ? o.wrapGraph(graph) : graph, assignment: o.assignment, nodeId: o.nodeId, nodeLabels: o.labels,
        transport: o.transport, log: o.log, replay, connectors: createConnectors(o.broker ? { nodeId: o.nodeId, connection: o.broker } : undefined),
      });
      this.runtime = rt;
      // A task failed (its own try caught user code throwing): the application fails here, alone.
      rt.onFailure((err) => this.fail(err.code, err.message));
      await rt.start();
      if (this.failed || this.stopped) return;
      this.events.state('running');
      // Kept up after the end too: the wire counters (fenced zombies, say) stay observable.
      this.statsTimer = setInterval(() => void this.reportStats(), STATS_EVERY_MS);
      await rt.finished;
      if (this.stopped) return;
      await this.reportStats();
      await this.close();
      if (!rt.failure && !this.failed) {
        this.ended = true;
        this.events.state('finished');
      }
    } catch (err) {
      o.log.error({ err }, 'application failed to start');
      const { code, message } = loadFailure(err);
      this.fail(code, message);
    }
  }

  /** Tries to apply a new assignment in place; false: the host restarts the application. */
  update(assignment: AppAssignment): boolean {
    return this.runtime?.update(assignment) ?? false;
  }

  /** Graceful: sources stop reading, everything downstream drains. */
  stopSources(): void {
    this.runtime?.stopSources();
  }

  /**
   * Immediate: tasks are abandoned and the replay log released. Its LevelDB must be closed before
   * the application runs again on this node (LevelDB locks it per process).
   */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.statsTimer) clearInterval(this.statsTimer);
    this.statsTimer = null;
    this.runtime?.abort();
    await this.close();
  }

  /**
   * The application failed (a task's error, or the host attributed an uncaught exception to it):
   * reported once, then its tasks are abandoned so that nothing of it keeps running.
   */
  fail(code: string, message: string): void {
    if (this.failed || this.stopped || this.ended) return;
    this.failed = true;
    this.events.state('failed', { code, message });
    this.runtime?.abort();
    void this.close().catch((err: Error) => this.options.log.warn({ err: err.message }, 'closing a failed application'));
  }

  private close(): Promise<void> {
    this.closing ??= this.runtime?.close() ?? Promise.resolve();
    return this.closing;
  }

  private async reportStats(): Promise<void> {
    const rt = this.runtime;
    if (!rt) return;
    const tasks = [...rt.hosts.values()].map((h) => ({
      processor: h.id.processor,
      index: rt.taskIndexOf(h),
      in: h.metrics.in,
      out: h.metrics.out,
      late: h.metrics.late,
      rejected: h.metrics.rejected,
      queued: h.queued(),
      maxQueued: h.metrics.maxQueued,
      inputClock: h.inputClock,
      // Latency percentiles since the previous report, cumulative latency buckets, top keys.
      ...h.metrics.takeProbeReport(),
      // A source with a clock per device: who holds it back.
      ...(h instanceof SourceTaskRunner ? laggardsReport(h) : {}),
    }));
    const replay = this.options.replay && !this.closing ? await rt.replayStats().catch(() => undefined) : undefined;
    this.events.stats(tasks, { ...rt.stats }, replay);
  }
}

/**
 * Evaluates the bundle (the host's API as `tributary`) and builds the application's graph with
 * the assignment's params: what a run does first, and what a standby thread does ahead of one.
 */
export async function prepareGraph(bundlePath: string, assignment: Pick<AppAssignment, 'app' | 'params'>): Promise<Graph> {
  return resolveApp(await loadBundle(bundlePath), new Params({ ...assignment.params }), assignment.app);
}

/**
 * A hot standby's preparation, for both hosts: the graph built ahead of a run (prepareGraph), or
 * why it cannot be (logged). A bundle that fails here would fail its run too: the host reports the
 * standby failed, and the node starts the application cold if tasks of it ever come.
 */
export async function prepareStandby(bundlePath: string, assignment: Pick<AppAssignment, 'app' | 'params'>, log: Logger):
  Promise<{ graph: Graph; ms: number } | { error: { code: string; message: string } }> {
  const t0 = performance.now();
  try {
    const graph = await prepareGraph(bundlePath, assignment);
    return { graph, ms: Math.round(performance.now() - t0) };
  } catch (err) {
    log.error({ err }, 'standby: the application failed to load');
    return { error: loadFailure(err) };
  }
}

/** What loading an application threw, as a state's error: its own code, else TRIB_ERR_APP_INVALID. */
function loadFailure(err: unknown): { code: string; message: string } {
  const e = err as { code?: string; message?: string } | null;
  return { code: e?.code ?? ErrorCodes.APP_INVALID, message: e?.message ?? String(err) };
}

/**
 * The replay log as the runtime gets it: a close that comes while it is still opening (the
 * application stopped during its start) waits for the open, then closes, and nothing reopens it
 * afterwards. LevelDB locks a log per process: inline, a log left open by a stopped run would keep
 * the application's next run on this node (a recovery, say) from opening it. (A thread's exit
 * releases it anyway.)
 */
class ClosingReplayLog implements PartReplayLog {
  private opening: Promise<void> | null = null;
  private closed = false;

  constructor(private readonly inner: AppReplayLog) {}

  get log() {
    return this.inner.log;
  }

  open(): Promise<void> {
    if (this.closed) return Promise.reject(new Error('replay log closed: the application was stopped while starting'));
    this.opening = this.inner.open();
    return this.opening;
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.opening?.catch(() => {});
    await this.inner.close();
  }

  diskBytes(): Promise<number> {
    return this.inner.diskBytes();
  }
}

/** The devices holding a source's clock back the most, for its task report (none: nothing). */
function laggardsReport(h: SourceTaskRunner): { clockLaggards?: [string, number, number][] } {
  const l = h.laggards(LAGGARDS_REPORTED);
  return l.length > 0 ? { clockLaggards: l.map((d) => [d.device, d.newestTs, d.clock]) } : {};
}

/** Devices per source in a task report. */
const LAGGARDS_REPORTED = 10;
