/**
 * An incremental aggregate: create an accumulator per key and window, add values into it,
 * read the result when the window fires. add() may mutate and return the same accumulator.
 */
export interface Aggregator<V, A, R> {
  readonly name: string;
  create(): A;
  add(acc: A, value: V): A;
  result(acc: A): R;
  /**
   * Combines two accumulators into a new one (inputs are not modified). Needed for checkpoints:
   * a window's state is kept per checkpoint interval, so that state(t) holds only records before t,
   * and the parts are merged when the window fires. Every built-in aggregator has it.
   */
  merge?(a: A, b: A): A;
}

type NumberOf<V> = (value: V) => number;

export function count<V = unknown>(): Aggregator<V, number, number> {
  return { name: 'count', create: () => 0, add: (acc) => acc + 1, result: (acc) => acc, merge: (a, b) => a + b };
}

export function sum<V>(of: NumberOf<V>): Aggregator<V, number, number> {
  return { name: 'sum', create: () => 0, add: (acc, v) => acc + of(v), result: (acc) => acc, merge: (a, b) => a + b };
}

export function min<V>(of: NumberOf<V>): Aggregator<V, number, number> {
  return { name: 'min', create: () => Infinity, add: (acc, v) => Math.min(acc, of(v)), result: (acc) => acc, merge: Math.min };
}

export function max<V>(of: NumberOf<V>): Aggregator<V, number, number> {
  return { name: 'max', create: () => -Infinity, add: (acc, v) => Math.max(acc, of(v)), result: (acc) => acc, merge: Math.max };
}

export function avg<V>(of: NumberOf<V>): Aggregator<V, { n: number; sum: number }, number> {
  return {
    name: 'avg',
    create: () => ({ n: 0, sum: 0 }),
    add: (acc, v) => {
      acc.n++;
      acc.sum += of(v);
      return acc;
    },
    result: (acc) => acc.sum / acc.n,
    merge: (a, b) => ({ n: a.n + b.n, sum: a.sum + b.sum }),
  };
}

export interface Stats {
  count: number;
  sum: number;
  min: number;
  max: number;
  avg: number;
}

/** count, sum, min, max and avg in one pass and one accumulator. */
export function stats<V>(of: NumberOf<V>): Aggregator<V, Stats, Stats> {
  return {
    name: 'stats',
    create: () => ({ count: 0, sum: 0, min: Infinity, max: -Infinity, avg: 0 }),
    add: (acc, v) => {
      const x = of(v);
      acc.count++;
      acc.sum += x;
      if (x < acc.min) acc.min = x;
      if (x > acc.max) acc.max = x;
      return acc;
    },
    result: (acc) => ({ count: acc.count, sum: acc.sum, min: acc.min, max: acc.max, avg: acc.sum / acc.count }),
    merge: (a, b) => ({ count: a.count + b.count, sum: a.sum + b.sum, min: Math.min(a.min, b.min), max: Math.max(a.max, b.max), avg: 0 }),
  };
}

/** Folds values with a binary function; the first value seeds it. */
export function reduce<V>(fn: (a: V, b: V) => V): Aggregator<V, { has: boolean; v: V | undefined }, V> {
  return {
    name: 'reduce',
    create: () => ({ has: false, v: undefined }),
    add: (acc, v) => {
      acc.v = acc.has ? fn(acc.v as V, v) : v;
      acc.has = true;
      return acc;
    },
    result: (acc) => acc.v as V,
    // Assumes fn is associative, as any reduce that runs in parallel must be.
    merge: (a, b) => (!a.has ? { ...b } : !b.has ? { ...a } : { has: true, v: fn(a.v as V, b.v as V) }),
  };
}
