import type { Logger } from '../logger.js';
import type { Message } from '../message.js';
import type { Connectors } from '../connectors.js';

/** Which task this is: the processor it belongs to and its index among that processor's tasks. */
export interface TaskId {
  readonly processor: number;
  readonly index: number;
}

export function taskIdString(id: TaskId): string {
  return `${id.processor}.${id.index}`;
}

/**
 * What the runtime gives a task. The same context is provided by the local runtime, a cloud
 * worker and an edge agent, which is what makes placement location-transparent.
 */
export interface TaskContext<O = unknown> {
  readonly taskId: TaskId;
  readonly processorName: string;
  readonly parallelism: number;
  readonly config: Readonly<Record<string, unknown>>;
  readonly log: Logger;
  /** Emit a message downstream; partitioners decide which downstream task receives it. */
  output(msg: Message<O>): void;
  /** Hand a record that arrived behind the clock to the application's late-data output. */
  late(msg: Message): void;
  /** The min-clock of this task's inputs: nothing older than this will reach onNext. */
  readonly inputClock: number;
  /**
   * Event-time spacing of checkpoints (exactly-once), 0 when checkpoints are off. Stateful tasks
   * keep their state split at multiples of it, so that snapshot(t) holds only messages before t.
   */
  readonly checkpointIntervalMs?: number;
  /** This run restarts from a checkpoint after a failure: sinks append and skip what they wrote. */
  readonly recovering?: boolean;
  /** The host's implementations of the built-in sources and sinks (see createSink). */
  readonly connectors?: Connectors;
  /** The application's name ('' when the host does not say). */
  readonly app?: string;
}

/**
 * The task contract (Gearpump's): the runtime calls
 *   onStart(startClock) once, before any message;
 *   onNext(msg) for every message, in channel order, never concurrently;
 *   onClock(clock) whenever the input min-clock advances (after the messages that preceded it);
 *   onBatchEnd() after each input batch — the place to flush I/O; a returned promise is awaited
 *     before the next batch, which is how a slow sink pushes back on its producers;
 *   onStop() once, after the input clock reached +Infinity (bounded input) or on shutdown;
 *   onAbort() instead, when the task is abandoned without draining (a recovery, a kill).
 * A task emits with ctx.output(msg). Timestamps it emits must not be older than the clock it
 * has already let pass (heldClock bounds that); older ones are diverted to the late output.
 */
export abstract class Task<I = unknown, O = unknown> {
  constructor(protected readonly ctx: TaskContext<O>) {}

  onStart(_startClock: number): void | Promise<void> {}

  abstract onNext(msg: Message<I>): void;

  onClock(_clock: number): void {}

  onBatchEnd(): void | Promise<void> {}

  /**
   * The oldest timestamp this task may still emit without a new input, e.g. a buffer it holds.
   * The task's output clock is min(inputClock, heldClock()). Stateless and window tasks
   * return +Infinity: windows emit at end-1 only after the clock has passed their end.
   */
  heldClock(): number {
    return Infinity;
  }

  /**
   * True when every value this task emits is one of its input values, passed on as the same
   * object and not modified (it may drop messages, set keys, reorder nothing). A source task
   * that says so lets its replay log's encoded values go on the wire as they are (frame version
   * 2: encode once). The built-in keyBy, filter, rebalance and merge steps do; user functions
   * given to them must not modify the value they are handed (they never should).
   */
  get passesValuesThrough(): boolean {
    return false;
  }

  onStop(): void | Promise<void> {}

  /**
   * The task is abandoned without draining (a recovery starts a new epoch, the application is
   * killed): release connections and handles, emit and write nothing. Called at most once,
   * instead of onStop(); the next run of the task waits for it (so a sink's next connection does
   * not meet the one it replaces under the same client id).
   */
  onAbort(): void | Promise<void> {}

  /**
   * The state API of exactly-once. When the task's input clock passes a checkpoint time t, the
   * runtime calls onClock(t) and then snapshot(t): return the task's state covering exactly the
   * messages with ts < t (plain CBOR-encodable data; undefined = no state). After a failure the
   * task is rebuilt, restore() gets that state back, and the sources replay every record from t.
   */
  snapshot(_t: number): unknown {
    return undefined;
  }

  restore(_state: unknown): void {}

  /**
   * The application's checkpoint t is complete (every task reported it): a recovery restores t
   * or a later one. Arrives from the master at any moment, also mid-batch: note it, do no I/O.
   */
  checkpointComplete(_t: number): void {}
}

/** Builds a task for one task slot of a processor. */
export type TaskFactory = (ctx: TaskContext) => Task;

/** A task that forwards every message unchanged: the default body of a source processor. */
export class IdentityTask extends Task {
  onNext(msg: Message): void {
    this.ctx.output(msg);
  }

  override get passesValuesThrough(): boolean {
    return true;
  }
}
