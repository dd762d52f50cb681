import { Worker } from 'node:worker_threads';
import type { AppAssignment, AppState, TaskReport } from '../wire/assignment.js';
import type { Logger } from '../log/log.js';
import type { AppReplayStats, FromAppThread, ToAppThread } from './port-transport.js';
import type { AppThreadData } from './app-thread.js';

/**
 * The thread's entry: compiled, app-thread.mjs next to this module (cli/dist); from the sources
 * (tests, development), a bootstrap that registers the TypeScript loader in the thread first.
 */
const threadEntry = import.meta.url.endsWith('.ts')
  ? new URL('./app-thread-entry.mjs', import.meta.url)
  : new URL('./app-thread.mjs', import.meta.url);

export interface AppStatus {
  state: AppState;
  tasks: TaskReport[];
  wire: Record<string, number>;
  replay?: AppReplayStats;
  error?: string;
}

/**
 * One application's worker thread on a node, seen from the node's main thread: start it, relay
 * messages to it, forward its publishes, track its state. If the thread dies, the application is
 * failed on this node; the node itself goes on.
 */
export class AppProcess {
  readonly status: AppStatus = { state: 'starting', tasks: [], wire: {} };
  private readonly worker: Worker;
  private readonly exited: Promise<void>;
  private updateWaiter: ((ok: boolean) => void) | null = null;
  private closedWaiter: (() => void) | null = null;

  constructor(
    public assignment: AppAssignment,
    bundlePath: string,
    data: Omit<AppThreadData, 'bundlePath' | 'assignment'>,
    private readonly publish: (topic: string, payload: Uint8Array, qos: 0 | 1, retain: boolean) => void,
    private readonly log: Logger,
    private readonly onChange: () => void,
  ) {
    const workerData: AppThreadData = { ...data, bundlePath, assignment };
    this.worker = new Worker(threadEntry, { workerData });
    this.worker.on('message', (m: FromAppThread) => this.onThreadMessage(m));
    this.worker.on('error', (err) => {
      this.log.error({ app: assignment.app, err }, 'application thread crashed');
      this.setState('failed', err.message);
    });
    this.exited = new Promise((resolve) => this.worker.once('exit', () => resolve()));
  }

  get app(): string {
    return this.assignment.app;
  }

  deliver(topic: string, payload: Uint8Array): void {
    const m: ToAppThread = { type: 'message', topic, payload };
    this.worker.postMessage(m);
  }

  /**
   * Tries to apply a new assignment without a restart; false means restart. A thread that has
   * died answers nothing: false then too, or every later assignment on this node would wait.
   */
  update(assignment: AppAssignment): Promise<boolean> {
    const answered = new Promise<boolean>((resolve) => {
      this.updateWaiter = (ok) => {
        if (ok) this.assignment = assignment;
        resolve(ok);
      };
      const m: ToAppThread = { type: 'update', assignment };
      this.worker.postMessage(m);
    });
    return Promise.race([answered, this.exited.then(() => false)]);
  }

  /** Aborts the application, lets it close its replay log (bounded wait), then ends the thread. */
  async stop(): Promise<void> {
    const closed = new Promise<void>((resolve) => (this.closedWaiter = resolve));
    const m: ToAppThread = { type: 'stop', drain: false };
    this.worker.postMessage(m);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([closed, this.exited, new Promise<void>((r) => (timer = setTimeout(r, 3000)))]);
    clearTimeout(timer);
    await this.worker.terminate();
    await this.exited;
  }

  private onThreadMessage(m: FromAppThread): void {
    switch (m.type) {
      case 'publish':
        return this.publish(m.topic, m.payload, m.qos, m.retain);
      case 'state':
        return this.setState(m.state, m.error ? `[${m.error.code}] ${m.error.message}` : undefined);
      case 'stats':
        Object.assign(this.status, { tasks: m.tasks, wire: m.wire, replay: m.replay });
        return;
      case 'closed':
        this.closedWaiter?.();
        this.closedWaiter = null;
        return;
      case 'updated':
        this.updateWaiter?.(m.ok);
        this.updateWaiter = null;
        return;
    }
  }

  private setState(state: AppState, error?: string): void {
    if (this.status.state === 'failed') return;
    this.status.state = state;
    if (error) this.status.error = error;
    this.log.info({ app: this.app, state, error }, `application ${state}`);
    this.onChange();
  }
}
