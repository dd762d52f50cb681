import { Worker } from 'node:worker_threads';
import { ErrorCodes } from '../api/errors.js';
import type { AppAssignment } from '../wire/assignment.js';
import type { FromAppThread, ToAppThread } from './port-transport.js';
import type { AppThreadData } from './app-thread.js';
import { setAppState, type AppHost, type AppHostOptions, type AppStatus } from './app-host.js';

/**
 * The thread's entry: compiled, app-thread.mjs next to this module (cli/dist); from the sources
 * (tests, development), a bootstrap that registers the TypeScript loader in the thread first.
 */
const threadEntry = import.meta.url.endsWith('.ts')
  ? new URL('./app-thread-entry.mjs', import.meta.url)
  : new URL('./app-thread.mjs', import.meta.url);

/**
 * An application in its own worker thread (isolation `thread`), seen from the node's main
 * thread: starts the thread, relays messages to it (postMessage: a copy each), forwards its
 * publishes, tracks its state. If the thread dies, the application is failed on this node; the
 * node goes on. Costs a V8 isolate (~10 MB) per application, and buys full isolation: a loop or
 * a leak in the application's code cannot stall or grow the node.
 */
export class ThreadApp implements AppHost {
  readonly status: AppStatus = { state: 'starting', tasks: [], wire: {} };
  assignment: AppAssignment;
  private worker: Worker | null = null;
  private exitedResolve!: () => void;
  readonly exited = new Promise<void>((r) => (this.exitedResolve = r));
  private updateWaiter: ((ok: boolean) => void) | null = null;
  private closedWaiter: (() => void) | null = null;

  constructor(private readonly options: AppHostOptions) {
    this.assignment = options.assignment;
  }

  get app(): string {
    return this.assignment.app;
  }

  start(): void {
    const o = this.options;
    const workerData: AppThreadData = {
      bundlePath: o.bundlePath, assignment: o.assignment, nodeId: o.nodeId, labels: o.labels, logLevel: o.logLevel,
      ...(o.replay ? { replay: o.replay } : {}),
      ...(o.broker ? { broker: o.broker } : {}),
      ...(o.standby ? { standby: true } : {}),
    };
    // A heap cap: an application that leaks dies alone (ERR_WORKER_OUT_OF_MEMORY: failed here), not the node.
    const worker = new Worker(threadEntry, { workerData, ...(o.heapMb ? { resourceLimits: { maxOldGenerationSizeMb: o.heapMb } } : {}) });
    this.worker = worker;
    worker.on('message', (m: FromAppThread) => this.onThreadMessage(m));
    worker.on('error', (err) => {
      this.options.log.error({ app: this.app, err }, 'application thread crashed');
      this.setState('failed', `[${ErrorCodes.TASK_FAILED}] ${err.message}`);
    });
    worker.once('exit', () => this.exitedResolve());
  }

  /**
   * A copy of exactly the payload's bytes, moved into the thread: the MQTT client's payloads are
   * views into its read buffers, and posting a view clones its whole ArrayBuffer (up to 64 KB
   * and more per frame), while moving the payload itself would take it from other listeners.
   */
  deliver(topic: string, payload: Uint8Array): void {
    const own = new Uint8Array(payload);
    const m: ToAppThread = { type: 'message', topic, payload: own };
    this.worker?.postMessage(m, [own.buffer]);
  }

  /**
   * A thread that has died answers nothing: false then too, or every later assignment on this
   * node would wait.
   */
  update(assignment: AppAssignment): Promise<boolean> {
    const answered = new Promise<boolean>((resolve) => {
      this.updateWaiter = (ok) => {
        // A new epoch restarted in the thread: the previous run's task reports are not this one's.
        if (ok && assignment.epoch !== this.assignment.epoch) Object.assign(this.status, { tasks: [], wire: {} });
        if (ok) this.assignment = assignment;
        resolve(ok);
      };
      const m: ToAppThread = { type: 'update', assignment };
      this.worker?.postMessage(m);
    });
    return Promise.race([answered, this.exited.then(() => false)]);
  }

  /** Aborts the application, lets it close its replay log (bounded wait), then ends the thread. */
  async stop(): Promise<void> {
    const worker = this.worker;
    if (!worker) return this.exitedResolve();
    const closed = new Promise<void>((resolve) => (this.closedWaiter = resolve));
    const m: ToAppThread = { type: 'stop', drain: false };
    worker.postMessage(m);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([closed, this.exited, new Promise<void>((r) => (timer = setTimeout(r, 3000)))]);
    clearTimeout(timer);
    await worker.terminate();
    await this.exited;
  }

  private onThreadMessage(m: FromAppThread): void {
    switch (m.type) {
      case 'publish':
        return this.options.publish(m.topic, m.payload, m.qos, m.retain);
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
      case 'standby':
        this.options.log.info({ event: 'standby-ready', app: this.app, ms: m.ms }, 'standby ready: application loaded in its thread, waiting for tasks');
        return;
    }
  }

  private setState(state: AppStatus['state'], error?: string): void {
    setAppState(this.status, this.app, state, error, this.options.log, this.options.onChange);
  }
}
