import type { ProcessorSpec } from '../api/dag/graph.js';
import { ErrorCodes, TaskError, isTributaryError } from '../api/errors.js';
import type { Logger } from '../log/log.js';
import type { Message } from '../api/message.js';
import type { Task, TaskContext, TaskId } from '../api/task/task.js';
import type { Connectors } from '../api/connectors.js';
import type { Router } from './router.js';
import { cborDecoder, cborEncoder } from '../wire/cbor.js';
import { newTaskMetrics, type TaskMetrics } from './task-metrics.js';
import { systemClock, type Clock } from './wall-clock.js';

export interface HostEvents {
  /** A late record with no late-data output to go to: counted and reported by the runtime. */
  lateDropped(host: TaskHost, msg: Message): void;
  /** The task failed; the runtime decides what to do (local mode stops the application). */
  failed(host: TaskHost, err: TaskError): void;
  /** Event-time spacing of checkpoints; absent or 0: no checkpoints (local mode). */
  readonly checkpointIntervalMs?: number;
  /** This run restarts from a checkpoint after a failure (sinks resume their output). */
  readonly recovering?: boolean;
  /** The host process's implementations of the built-in sources and sinks. */
  readonly connectors?: Connectors;
  /**
   * The task's input clock passed checkpoint time t and everything it did before t is done
   * (including its sink I/O): `state` is its encoded snapshot (null when it holds none).
   */
  checkpointed?(host: TaskHost, t: number, state: Uint8Array | null): void;
  /** Wall time for event-time latency and timers (idle-source timeout); default systemClock. */
  readonly clock?: Clock;
  /** The application's name (tasks see it as ctx.app, sinks derive result ids from it). */
  app?: string;
}

/**
 * What every hosted task shares, whatever feeds it (channels or a source): its context, its
 * router, its clock, its metrics, and the end-of-input sequence. Subclasses decide where input
 * comes from. Each call into the task is made from one async loop, so tasks never run concurrently.
 */
export abstract class TaskHost {
  readonly id: TaskId;
  readonly metrics: TaskMetrics = newTaskMetrics();
  readonly task: Task;
  readonly ctx: TaskContext;
  /** The runtime's clock (HostEvents.clock): every wall-time read and timer of a host. */
  protected readonly clock: Clock;
  /** Min-clock of this task's inputs; reaches +Infinity when all its input has ended. */
  inputClock = -Infinity;
  protected stopped = false;
  /** The last checkpoint time snapshotted (or restored): the next one must be later. */
  private lastCheckpoint = -Infinity;
  /** A snapshot taken during this batch, reported once the batch's I/O is done. */
  private pendingCheckpoint: { t: number; state: Uint8Array | null } | null = null;
  private finishedResolve!: () => void;
  /** Resolves once the task has stopped (its input ended, or the host was stopped). */
  readonly finished = new Promise<void>((r) => (this.finishedResolve = r));
  /** Resolves once what an abandoned task held is released (abort(): Task.onAbort, a source's close). */
  released: Promise<void> = Promise.resolve();
  private releasing = false;
  /** onStop() ran to its end: nothing is left to release. */
  private stoppedCleanly = false;

  constructor(
    readonly spec: ProcessorSpec,
    index: number,
    readonly router: Router,
    protected readonly log: Logger,
    protected readonly events: HostEvents,
  ) {
    this.id = { processor: spec.id, index };
    this.clock = events.clock ?? systemClock;
    const host = this;
    this.ctx = {
      taskId: this.id,
      processorName: spec.name,
      app: events.app ?? '',
      parallelism: spec.parallelism,
      config: spec.config,
      log,
      output: (msg) => this.emit(msg),
      late: (msg) => this.divertLate(msg),
      get inputClock() {
        return host.inputClock;
      },
      checkpointIntervalMs: events.checkpointIntervalMs ?? 0,
      recovering: events.recovering ?? false,
      connectors: events.connectors,
    };
    this.task = spec.taskFactory(this.ctx);
  }

  /** Batches waiting to be processed (a channel-fed task's inbox). */
  queued(): number {
    return 0;
  }

  get name(): string {
    return `${this.spec.name}#${this.id.index}`;
  }

  /** Output clock: what this task promises about everything it will still emit. */
  get outputClock(): number {
    return Math.min(this.inputClock, this.task.heldClock());
  }

  async start(): Promise<void> {
    await this.guard(() => this.task.onStart(this.inputClock));
  }

  private emit(msg: Message): void {
    // A task may not emit behind the clock it already let pass: downstream windows may be closed.
    if (msg.ts < this.router.lastClock) return this.divertLate(msg);
    this.metrics.out++;
    this.router.output(msg);
  }

  protected divertLate(msg: Message): void {
    this.metrics.late++;
    if (this.router.hasLateRoute) this.router.late(msg);
    else this.events.lateDropped(this, msg);
  }

  /** Raises the input clock; on a rise, lets the task react (windows fire) before the flush. */
  protected advanceClock(clock: number): void {
    if (clock > this.inputClock) {
      const interval = this.events.checkpointIntervalMs;
      if (interval && Number.isFinite(clock)) this.maybeCheckpoint(clock, interval);
      this.inputClock = clock;
      this.task.onClock(clock);
    }
  }

  /**
   * Gearpump's checkpoint: when the clock passes checkpoint time t (the latest multiple of the
   * interval not after it), first let the task see clock t exactly (windows ending by t fire),
   * then snapshot state(t), then let the clock go on. Every task picks the same t from the same
   * grid, so the application's checkpoint t is complete once all its tasks have reported it.
   */
  private maybeCheckpoint(clock: number, interval: number): void {
    const t = Math.floor(clock / interval) * interval;
    if (t <= this.inputClock || t <= this.lastCheckpoint) return;
    this.inputClock = t;
    this.task.onClock(t);
    const state = this.snapshotState(t);
    this.lastCheckpoint = t;
    this.pendingCheckpoint = { t, state: state === undefined ? null : cborEncoder.encode(state) };
  }

  /** The application's checkpoint t is complete (from the master's clock message). */
  checkpointComplete(t: number): void {
    this.task.checkpointComplete(t);
  }

  /** After a restart: the state of checkpoint t goes back into the task, before it starts. */
  restoreCheckpoint(t: number, state: Uint8Array | null): void {
    this.lastCheckpoint = t;
    if (state) this.restoreState(cborDecoder.decode(state));
  }

  /** The state checkpoint t holds: the task's; a source runner adds its clock state. */
  protected snapshotState(t: number): unknown {
    return this.task.snapshot(t);
  }

  /** Puts a decoded checkpoint state back (the inverse of snapshotState). */
  protected restoreState(state: unknown): void {
    this.task.restore(state);
  }

  /** Sends what the batch produced with the new output clock, then lets the task do its I/O. */
  protected endBatch(): void | Promise<void> {
    this.metrics.batches++;
    this.router.flush(this.outputClock);
    const io = this.task.onBatchEnd();
    if (!this.pendingCheckpoint) return io;
    // Reported only once the batch's I/O is done: a sink's output before t is then written.
    if (io) return io.then(() => this.reportCheckpoint());
    this.reportCheckpoint();
  }

  private reportCheckpoint(): void {
    const cp = this.pendingCheckpoint;
    this.pendingCheckpoint = null;
    if (cp) this.events.checkpointed?.(this, cp.t, cp.state);
  }

  /** Waits until every output channel has credit again (back-pressure from downstream). */
  protected async awaitCredit(): Promise<void> {
    for (let w = this.router.whenWritable(); w; w = this.router.whenWritable()) await w;
  }

  /** Input ended: the clock is +Infinity, everything held is flushed, then the task stops. */
  protected async finish(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    try {
      this.advanceClock(Infinity);
      await this.endBatch();
      await this.task.onStop();
      this.stoppedCleanly = true;
    } catch (err) {
      this.fail(err);
    } finally {
      this.finishedResolve();
    }
  }

  protected async guard(fn: () => void | Promise<void>): Promise<boolean> {
    try {
      await fn();
      return true;
    } catch (err) {
      this.fail(err);
      return false;
    }
  }

  protected fail(err: unknown): void {
    this.stopped = true;
    const wrapped = isTributaryError(err) && err instanceof TaskError
      ? err
      : new TaskError(
        isTributaryError(err) ? err.code : ErrorCodes.TASK_FAILED,
        `task ${this.name} failed: ${(err as Error)?.message ?? String(err)}`,
        { cause: err },
      );
    this.events.failed(this, wrapped);
    this.finishedResolve();
  }

  /**
   * Abandon the task without draining (a recovery, a kill, a failure elsewhere), and release what
   * it holds (`released`): a failed or running task's connections must not outlive it, or the next
   * run's, under the same client ids, would meet them.
   */
  abort(): void {
    if (!this.stopped) {
      this.stopped = true;
      this.finishedResolve();
    }
    if (this.releasing || this.stoppedCleanly) return;
    this.releasing = true;
    this.released = this.release();
  }

  /** What abort() releases: the task's own (Task.onAbort); a source's runner closes its source too. */
  protected async release(): Promise<void> {
    try {
      await this.task.onAbort();
    } catch (err) {
      this.log.warn({ err }, `releasing task ${this.name} failed`);
    }
  }
}
