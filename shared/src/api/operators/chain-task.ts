import type { Message } from '../message.js';
import type { Emit, Operator, OperatorFactory } from './operator.js';
import { Task, type TaskContext } from '../task/task.js';

/**
 * A task that runs a fused chain of operators (what the DSL planner produces): messages pass
 * from operator to operator by plain function calls, with no queue, copy or encoding between them.
 */
export class ChainTask extends Task {
  private readonly ops: Operator[];
  private readonly head: Emit;
  private readonly passes: boolean;

  constructor(ctx: TaskContext, factories: readonly OperatorFactory[]) {
    super(ctx);
    const ops: Operator[] = new Array(factories.length);
    let next: Emit = (msg) => ctx.output(msg);
    // Build from the tail so each operator receives its successor's push as its emit.
    for (let i = factories.length - 1; i >= 0; i--) {
      const op = factories[i](next, ctx);
      ops[i] = op;
      next = (msg) => op.push(msg);
    }
    this.ops = ops;
    this.passes = factories.every((f) => f.passesValues === true);
    this.head = ops.length > 0 ? ops[0].push.bind(ops[0]) : next;
  }

  override async onStart(): Promise<void> {
    for (const op of this.ops) await op.open?.();
  }

  /** Every operator of the chain passes its input values on unchanged (or there is none). */
  override get passesValuesThrough(): boolean {
    return this.passes;
  }

  onNext(msg: Message): void {
    this.head(msg);
  }

  /** In chain order, so a window that fires feeds operators that then see the same clock. */
  override onClock(clock: number): void {
    for (const op of this.ops) op.onClock?.(clock);
  }

  override onBatchEnd(): void | Promise<void> {
    let pending: Promise<void>[] | undefined;
    for (const op of this.ops) {
      const p = op.onBatchEnd?.();
      if (p) (pending ??= []).push(p);
    }
    if (pending) return pending.length === 1 ? pending[0] : Promise.all(pending).then(() => undefined);
  }

  /** One entry per operator; undefined when no operator of the chain holds state. */
  override snapshot(t: number): unknown {
    let any = false;
    const states = this.ops.map((op) => {
      const s = op.snapshot?.(t);
      if (s !== undefined) any = true;
      return s ?? null;
    });
    return any ? states : undefined;
  }

  override restore(state: unknown): void {
    if (!Array.isArray(state)) return;
    this.ops.forEach((op, i) => {
      if (state[i] !== null && state[i] !== undefined) op.restore?.(state[i]);
    });
  }

  override checkpointComplete(t: number): void {
    for (const op of this.ops) op.checkpointComplete?.(t);
  }

  override async onStop(): Promise<void> {
    for (const op of this.ops) await op.close?.();
  }

  override async onAbort(): Promise<void> {
    await Promise.all(this.ops.map((op) => op.abort?.()));
  }
}
