import type { Message } from '../message.js';
import type { TaskContext } from '../task/task.js';

/** Hands a message to the next operator of a fused chain (or to the task's output at its end). */
export type Emit = (msg: Message) => void;

/**
 * One step of a fused chain. Operators are plain objects built per task; the chain calls
 * push() per message, then onClock() when the task's input clock advances, onBatchEnd() after each
 * input batch, and close() once at the end. Only push() is required.
 */
export interface Operator {
  open?(): void | Promise<void>;
  push(msg: Message): void;
  onClock?(clock: number): void;
  onBatchEnd?(): void | Promise<void>;
  close?(): void | Promise<void>;
  /**
   * The task is abandoned without draining (a recovery, a kill): release what the operator holds
   * (connections), write nothing. Called at most once, instead of close().
   */
  abort?(): void | Promise<void>;
  /**
   * Checkpoints (exactly-once): the operator's state covering only messages with ts < t, as plain
   * CBOR-encodable data. Called right after onClock(t); encoded at once, so it may share objects.
   */
  snapshot?(t: number): unknown;
  /** Puts back what snapshot() returned, before open() and any message. */
  restore?(state: unknown): void;
  /** The application's checkpoint t is complete (Task.checkpointComplete): note it, no I/O. */
  checkpointComplete?(t: number): void;
}

export type OperatorFactory = ((emit: Emit, ctx: TaskContext) => Operator) & {
  /** Set on steps that emit their input values unchanged (keyBy, filter, identity): see Task.passesValuesThrough. */
  readonly passesValues?: boolean;
};

/** Marks a factory whose operators emit only their input values, as the same objects. */
export function passingValues(factory: (emit: Emit, ctx: TaskContext) => Operator): OperatorFactory {
  return Object.assign(factory, { passesValues: true as const });
}
