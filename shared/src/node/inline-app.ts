import type { Graph } from '../api/dag/graph.js';
import { ErrorCodes } from '../api/errors.js';
import type { AppAssignment } from '../wire/assignment.js';
import type { PublishOptions } from '../wire/transport.js';
import { RelayTransport } from './relay-transport.js';
import type { Logger } from '../log/log.js';
import { sameSubmission, setAppState, type AppHost, type AppHostOptions, type AppStatus } from './app-host.js';
import { AppSession, prepareStandby } from './app-session.js';
import type { EventLoopWatchdog } from './event-loop-watchdog.js';
import { guardApp, runAs, type GuardedApp } from './inline-guard.js';

/**
 * An application on the node's own main thread (isolation `inline`, the default of edge agents):
 * no worker thread, so no second V8 isolate (~10 MB each) and no postMessage copy per message;
 * the node hands messages straight to the application's runtime. Same bundle loader and the same
 * AppSession as a thread.
 *
 * What it gives up, and how that is covered: an error in a task fails the application alone
 * (AppSession); an exception its own callbacks throw is attributed to it by inline-guard.ts and
 * fails it alone too; a call that blocks the event loop is reported by the node's
 * EventLoopWatchdog (counted in `status.stalls`). Memory is shared with the node: a leaking
 * application grows the agent (use isolation `thread` for code you do not trust).
 */
export class InlineApp implements AppHost, GuardedApp {
  readonly status: AppStatus = { state: 'starting', tasks: [], wire: {} };
  assignment: AppAssignment;
  private readonly transport: DirectTransport;
  private readonly log: Logger;
  /** Null while a standby (no run yet). */
  private session: AppSession | null = null;
  /** A standby's graph, built ahead for its first run (prepareGraph). */
  private warm: Graph | null = null;
  private preparing: Promise<void> = Promise.resolve();
  private release: (() => void) | null = null;
  private exitedResolve!: () => void;
  readonly exited = new Promise<void>((r) => (this.exitedResolve = r));

  constructor(private readonly options: AppHostOptions, private readonly watchdog: EventLoopWatchdog | null) {
    this.assignment = options.assignment;
    this.log = options.log.child({ app: options.assignment.app });
    this.transport = new DirectTransport(options.nodeId, options.publish);
    if (!options.standby) this.session = this.newSession(options.assignment);
  }

  get app(): string {
    return this.assignment.app;
  }

  start(): void {
    this.release = guardApp(this);
    const s = this.session;
    if (s) void runAs(this, () => s.run());
    else this.preparing = runAs(this, () => this.prepare());
  }

  /** Straight to the runtime's handlers, in the application's context; what they throw fails it. */
  deliver(topic: string, payload: Uint8Array): void {
    try {
      runAs(this, () => this.transport.deliver(topic, payload));
    } catch (err) {
      this.crashed(err, 'uncaughtException');
    }
  }

  /**
   * In place when the runtime can take it (remote senders added). A standby takes its first
   * assignment of the same submission: the run starts with the graph it built. Else false.
   */
  async update(assignment: AppAssignment): Promise<boolean> {
    await this.preparing;
    const s = this.session;
    if (s) {
      const ok = runAs(this, () => s.update(assignment));
      if (ok) this.assignment = assignment;
      return ok;
    }
    // No graph: still none, or the standby failed (fail() drops it).
    const graph = this.warm;
    if (!graph || !sameSubmission(this.assignment, assignment)) return false;
    this.log.info({ epoch: assignment.epoch }, 'standby: starting the application with its prepared graph');
    this.assignment = assignment;
    this.warm = null;
    const run = (this.session = this.newSession(assignment, graph));
    void runAs(this, () => run.run());
    return true;
  }

  async stop(): Promise<void> {
    this.unguard();
    this.warm = null;
    await this.session?.stop().catch((err: Error) => this.log.warn({ err: err.message }, 'stopping the application'));
    void this.transport.close();
    this.exitedResolve();
  }

  /** Its code threw where no task catches it (inline-guard.ts): the application fails, alone. */
  crashed(err: unknown, origin: 'uncaughtException' | 'unhandledRejection'): void {
    const e = err as { code?: string; message?: string } | null;
    this.log.error({ err, origin }, 'application code threw outside its tasks: failing the application');
    const code = typeof e?.code === 'string' && e.code.startsWith('TRIB_ERR_') ? e.code : ErrorCodes.TASK_FAILED;
    const message = `${origin} in application code: ${e?.message ?? String(err)}`;
    if (this.session) this.session.fail(code, message);
    else this.fail(code, message);
  }

  /** The watchdog saw this application block the event loop. */
  stalled(ms: number): void {
    const s = this.status.stalls;
    this.status.stalls = { count: (s?.count ?? 0) + 1, maxMs: Math.max(s?.maxMs ?? 0, ms), lastAt: Date.now() };
  }

  /** A standby's preparation (prepareStandby): ready with its graph, or failed. */
  private async prepare(): Promise<void> {
    const r = await prepareStandby(this.options.bundlePath, this.assignment, this.log);
    if ('error' in r) return this.fail(r.error.code, r.error.message);
    this.warm = r.graph;
    this.log.info({ event: 'standby-ready', ms: r.ms }, 'standby ready: application loaded inline, waiting for tasks');
  }

  /** A standby failed (no session to report it): failed, and its graph dropped. */
  private fail(code: string, message: string): void {
    this.warm = null;
    this.setState('failed', `[${code}] ${message}`);
  }

  /** The one session of this host (a new epoch is a new InlineApp: NodeAgent restarts it). */
  private newSession(assignment: AppAssignment, graph?: Graph): AppSession {
    const o = this.options;
    const watchdog = this.watchdog;
    return new AppSession({
      bundlePath: o.bundlePath, assignment, nodeId: o.nodeId, labels: o.labels,
      ...(o.replay ? { replay: o.replay } : {}),
      ...(o.broker ? { broker: o.broker } : {}),
      ...(graph ? { graph } : {}),
      transport: this.transport, log: this.log,
      ...(watchdog ? { wrapGraph: (g: Graph) => watchdog.wrapGraph(g, this.app) } : {}),
    }, {
      state: (state, error) => this.setState(state, error ? `[${error.code}] ${error.message}` : undefined),
      stats: (tasks, wire, replay) => Object.assign(this.status, { tasks, wire, replay }),
    });
  }

  private unguard(): void {
    this.release?.();
    this.release = null;
  }

  private setState(state: AppStatus['state'], error?: string): void {
    // Over: what its leftover callbacks still throw is logged and counted by the node, not blamed.
    if (state === 'finished' || state === 'failed') this.unguard();
    setAppState(this.status, this.app, state, error, this.options.log, this.options.onChange);
  }
}

/** The transport as an inline application sees it: publishes go straight to the node, no copy. */
class DirectTransport extends RelayTransport {
  constructor(clientId: string, private readonly publishOnNode: AppHostOptions['publish']) {
    super(clientId);
  }

  async publish(topic: string, payload: Uint8Array | string, opts: PublishOptions = {}): Promise<void> {
    this.publishOnNode(topic, typeof payload === 'string' ? Buffer.from(payload) : payload, opts.qos ?? 1, opts.retain ?? false);
  }
}
