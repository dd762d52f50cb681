import { ErrorCodes } from '../api/errors.js';
import type { AppAssignment } from '../wire/assignment.js';
import type { PublishOptions } from '../wire/transport.js';
import { RelayTransport } from './relay-transport.js';
import { setAppState, type AppHost, type AppHostOptions, type AppStatus } from './app-host.js';
import { AppSession } from './app-session.js';
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
  private readonly session: AppSession;
  private release: (() => void) | null = null;
  private exitedResolve!: () => void;
  readonly exited = new Promise<void>((r) => (this.exitedResolve = r));

  constructor(private readonly options: AppHostOptions, watchdog: EventLoopWatchdog | null) {
    this.assignment = options.assignment;
    const log = options.log.child({ app: options.assignment.app });
    this.transport = new DirectTransport(options.nodeId, options.publish);
    this.session = new AppSession({
      bundlePath: options.bundlePath, assignment: options.assignment, nodeId: options.nodeId, labels: options.labels,
      ...(options.replay ? { replay: options.replay } : {}),
      ...(options.broker ? { broker: options.broker } : {}),
      transport: this.transport, log,
      ...(watchdog ? { wrapGraph: (g) => watchdog.wrapGraph(g, this.app) } : {}),
    }, {
      state: (state, error) => this.setState(state, error ? `[${error.code}] ${error.message}` : undefined),
      stats: (tasks, wire, replay) => Object.assign(this.status, { tasks, wire, replay }),
    });
  }

  get app(): string {
    return this.assignment.app;
  }

  start(): void {
    this.release = guardApp(this);
    void runAs(this, () => this.session.run());
  }

  /** Straight to the runtime's handlers, in the application's context; what they throw fails it. */
  deliver(topic: string, payload: Uint8Array): void {
    try {
      runAs(this, () => this.transport.deliver(topic, payload));
    } catch (err) {
      this.crashed(err, 'uncaughtException');
    }
  }

  async update(assignment: AppAssignment): Promise<boolean> {
    const ok = runAs(this, () => this.session.update(assignment));
    if (ok) this.assignment = assignment;
    return ok;
  }

  async stop(): Promise<void> {
    this.unguard();
    await this.session.stop().catch((err: Error) => this.options.log.warn({ app: this.app, err: err.message }, 'stopping the application'));
    void this.transport.close();
    this.exitedResolve();
  }

  /** Its code threw where no task catches it (inline-guard.ts): the application fails, alone. */
  crashed(err: unknown, origin: 'uncaughtException' | 'unhandledRejection'): void {
    const e = err as { code?: string; message?: string } | null;
    this.options.log.error({ app: this.app, err, origin }, 'application code threw outside its tasks: failing the application');
    this.session.fail(typeof e?.code === 'string' && e.code.startsWith('TRIB_ERR_') ? e.code : ErrorCodes.TASK_FAILED,
      `${origin} in application code: ${e?.message ?? String(err)}`);
  }

  private unguard(): void {
    this.release?.();
    this.release = null;
  }

  /** The watchdog saw this application block the event loop. */
  stalled(ms: number): void {
    const s = this.status.stalls;
    this.status.stalls = { count: (s?.count ?? 0) + 1, maxMs: Math.max(s?.maxMs ?? 0, ms), lastAt: Date.now() };
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
