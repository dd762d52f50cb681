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
 * One window's accumulator for one key, split by checkpoint interval ("segment"): newest segment
 * first. With checkpoints off there is one segment; with them on, a record lands in the segment
 * of its timestamp, so the state before a checkpoint time t is the merge of the segments before
 * t. After a checkpoint the segments before it are merged into one, so the list stays short.
 */
interface Part<A> {
  seg: number;
  acc: A;
  older: Part<A> | null;
}

/**
 * Keyed event-time window aggregation. State: window start -> key -> accumulator parts. A window
 * fires when the task's input clock reaches its end: nothing older can arrive any more (records
 * behind the clock were already diverted to the late output by the runtime).
 */
export function windowOperator<V, A, R>(assigner: WindowAssigner, agg: Aggregator<V, A, R>): OperatorFactory {
  return (emit, ctx) => {
    const interval = ctx.checkpointIntervalMs ?? 0;
    if (interval > 0 && !agg.merge) {
      throw new TypeError(`aggregator ${agg.name} has no merge(): checkpoints (exactly-once) need one to split window state at checkpoint times`);
    }
    const windows = new Map<number, Map<unknown, Part<A>>>();
    // Smallest end among open windows, so that most clock ticks cost one comparison.
    let nextEnd = Infinity;
    let key: unknown;
    let value: V;
    let seg = 0;

    const openWindow = (start: number): Map<unknown, Part<A>> => {
      const byKey = new Map<unknown, Part<A>>();
      windows.set(start, byKey);
      const end = assigner.end(start);
      if (end < nextEnd) nextEnd = end;
      return byKey;
    };

    const addTo = (start: number): void => {
      const byKey = windows.get(start) ?? openWindow(start);
      const head = byKey.get(key);
      if (head === undefined) {
        byKey.set(key, { seg, acc: agg.add(agg.create(), value), older: null });
      } else if (head.seg === seg) {
        head.acc = agg.add(head.acc, value);
      } else {
        addToSegment(byKey, head);
      }
    };

    // Rare path (checkpoints on, a record of another interval than the newest one seen).
    const addToSegment = (byKey: Map<unknown, Part<A>>, head: Part<A>): void => {
      if (seg > head.seg) {
        byKey.set(key, { seg, acc: agg.add(agg.create(), value), older: head });
        return;
      }
      let p: Part<A> = head;
      while (p.older && p.older.seg >= seg) p = p.older;
      if (p.seg === seg) p.acc = agg.add(p.acc, value);
      else p.older = { seg, acc: agg.add(agg.create(), value), older: p.older };
    };

    const merged = (part: Part<A>): A => {
      let acc = part.acc;
      for (let p = part.older; p; p = p.older) acc = agg.merge!(p.acc, acc);
      return acc;
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
        for (const [k, part] of byKey) {
          const result: WindowResult<unknown, R> = { key: k, start, end, value: agg.result(merged(part)) };
          emit({ ts, key: k, value: result });
        }
      }
    };

    return {
      push(msg: Message) {
        key = msg.key;
        value = msg.value as V;
        if (interval > 0) seg = Math.floor(msg.ts / interval);
        assigner.assign(msg.ts, addTo);
      },
      onClock(clock: number) {
        if (clock >= nextEnd) fire(clock);
      },
      snapshot(t: number) {
        // Parts before t are merged into one (they never need splitting again) and snapshotted.
        const below = Math.floor(t / interval);
        const out: [number, [unknown, A][]][] = [];
        for (const [start, byKey] of windows) {
          const entries: [unknown, A][] = [];
          for (const [k, head] of byKey) {
            let p: Part<A> | null = head;
            let prev: Part<A> | null = null;
            while (p && p.seg >= below) {
              prev = p;
              p = p.older;
            }
            if (!p) continue;
            const before: Part<A> = { seg: below - 1, acc: merged(p), older: null };
            if (prev) prev.older = before;
            else byKey.set(k, before);
            entries.push([k, before.acc]);
          }
          if (entries.length > 0) out.push([start, entries]);
        }
        return out;
      },
      restore(state: unknown) {
        for (const [start, entries] of state as [number, [unknown, A][]][]) {
          const byKey = windows.get(start) ?? openWindow(start);
          for (const [k, acc] of entries) byKey.set(k, { seg: -Infinity, acc, older: null });
        }
      },
    };
  };
}
