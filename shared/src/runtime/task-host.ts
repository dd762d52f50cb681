import type { ProcessorSpec } from '../dag/graph.js';
import { ErrorCodes, TaskError, isTributaryError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Message } from '../message.js';
import type { Task, TaskContext, TaskId } from '../task/task.js';
import type { Router } from './router.js';
import { newTaskMetrics, type TaskMetrics } from './task-metrics.js';

export interface HostEvents {
  /** A late record with no late-data output to go to: counted and reported by the runtime. */
  lateDropped(host: TaskHost, msg: Message): void;
  /** The task failed; the runtime decides what to do (local mode stops the application). */
  failed(host: TaskHost, err: TaskError): void;
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
  /** Min-clock of this task's inputs; reaches +Infinity when all its input has ended. */
  inputClock = -Infinity;
  protected stopped = false;
  private finishedResolve!: () => void;
  /** Resolves once the task has stopped (its input ended, or the host was stopped). */
  readonly finished = new Promise<void>((r) => (this.finishedResolve = r));

  constructor(
    readonly spec: ProcessorSpec,
    index: number,
    readonly router: Router,
    protected readonly log: Logger,
    protected readonly events: HostEvents,
  ) {
    this.id = { processor: spec.id, index };
    const host = this;
    this.ctx = {
      taskId: this.id,
      processorName: spec.name,
      parallelism: spec.parallelism,
      config: spec.config,
      log,
      output: (msg) => this.emit(msg),
      late: (msg) => this.divertLate(msg),
      get inputClock() {
        return host.inputClock;
      },
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
      this.inputClock = clock;
      this.task.onClock(clock);
    }
  }

  /** Sends what the batch produced with the new output clock, then lets the task do its I/O. */
  protected endBatch(): void | Promise<void> {
    this.metrics.batches++;
    this.router.flush(this.outputClock);
    return this.task.onBatchEnd();
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

  /** Abandon the task without draining (used after a failure elsewhere). */
  abort(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.finishedResolve();
  }
}
