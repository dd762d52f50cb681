/**
 * An incremental aggregate: create an accumulator per key and window, add values into it,
 * read the result when the window fires. add() may mutate and return the same accumulator.
 */
export interface Aggregator<V, A, R> {
  readonly name: string;
  create(): A;
  add(acc: A, value: V): A;
  result(acc: A): R;
}

type NumberOf<V> = (value: V) => number;

export function count<V = unknown>(): Aggregator<V, number, number> {
  return { name: 'count', create: () => 0, add: (acc) => acc + 1, result: (acc) => acc };
}

export function sum<V>(of: NumberOf<V>): Aggregator<V, number, number> {
  return { name: 'sum', create: () => 0, add: (acc, v) => acc + of(v), result: (acc) => acc };
}

export function min<V>(of: NumberOf<V>): Aggregator<V, number, number> {
  return { name: 'min', create: () => Infinity, add: (acc, v) => Math.min(acc, of(v)), result: (acc) => acc };
}

export function max<V>(of: NumberOf<V>): Aggregator<V, number, number> {
  return { name: 'max', create: () => -Infinity, add: (acc, v) => Math.max(acc, of(v)), result: (acc) => acc };
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
  };
}
