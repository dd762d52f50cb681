import type { Message } from '../message.js';
import type { Aggregator } from './aggregators.js';
import type { OperatorFactory } from './operator.js';
import type { WindowAssigner } from './window-assigner.js';

/** What a keyed window aggregate emits: one per key per window. */
export interface WindowResult<K, R> {
  key: K;
  /** Inclusive; -Infinity for the global window. */
  start: number;
  /** Exclusive; +Infinity for the global window. */
  end: number;
  value: R;
}

/**
 * Timestamp of a result: end - 1, the last instant the window covers. It is never older than the
 * clock the task had already let pass (a window fires only once the clock reaches its end, and
 * before that the clock was < end), so results are never late downstream. The global window's
 * results use the largest safe integer, "end of time", which keeps timestamps integers.
 */
function resultTimestamp(end: number): number {
  return end === Infinity ? Number.MAX_SAFE_INTEGER : end - 1;
}

/**
 * Keyed event-time window aggregation. State: window start -> key -> accumulator. A window fires
 * when the task's input clock reaches its end: nothing older can arrive any more (records behind
 * the clock were already diverted to the late output by the runtime).
 */
export function windowOperator<V, A, R>(assigner: WindowAssigner, agg: Aggregator<V, A, R>): OperatorFactory {
  return (emit) => {
    const windows = new Map<number, Map<unknown, A>>();
    // Smallest end among open windows, so that most clock ticks cost one comparison.
    let nextEnd = Infinity;
    let key: unknown;
    let value: V;

    const addTo = (start: number): void => {
      let byKey = windows.get(start);
      if (!byKey) {
        byKey = new Map();
        windows.set(start, byKey);
        const end = assigner.end(start);
        if (end < nextEnd) nextEnd = end;
      }
      const acc = byKey.get(key);
      byKey.set(key, agg.add(acc === undefined ? agg.create() : acc, value));
    };

    const fire = (clock: number): void => {
      const ready: number[] = [];
      nextEnd = Infinity;
      for (const start of windows.keys()) {
        const end = assigner.end(start);
        if (end <= clock) ready.push(start);
        else if (end < nextEnd) nextEnd = end;
      }
      ready.sort((a, b) => a - b);
      for (const start of ready) {
        const end = assigner.end(start);
        const byKey = windows.get(start)!;
        windows.delete(start);
        const ts = resultTimestamp(end);
        for (const [k, acc] of byKey) {
          const result: WindowResult<unknown, R> = { key: k, start, end, value: agg.result(acc) };
          emit({ ts, key: k, value: result });
        }
      }
    };

    return {
      push(msg: Message) {
        key = msg.key;
        value = msg.value as V;
        assigner.assign(msg.ts, addTo);
      },
      onClock(clock: number) {
        if (clock >= nextEnd) fire(clock);
      },
    };
  };
}
