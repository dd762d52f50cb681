import type { Message } from '../message.js';
import { passingValues, type OperatorFactory } from './operator.js';

/** User functions see the value and its event time; the key travels along untouched. */
export type MapFn<T, U> = (value: T, ts: number) => U;
export type FilterFn<T> = (value: T, ts: number) => boolean;
export type FlatMapFn<T, U> = (value: T, ts: number) => Iterable<U>;
export type KeyFn<T, K> = (value: T) => K;

export function mapOperator<T, U>(fn: MapFn<T, U>): OperatorFactory {
  return (emit) => ({
    push: (msg) => emit({ ts: msg.ts, key: msg.key, value: fn(msg.value as T, msg.ts) }),
  });
}

export function filterOperator<T>(fn: FilterFn<T>): OperatorFactory {
  return passingValues((emit) => ({
    push: (msg) => {
      if (fn(msg.value as T, msg.ts)) emit(msg);
    },
  }));
}

export function flatMapOperator<T, U>(fn: FlatMapFn<T, U>): OperatorFactory {
  return (emit) => ({
    push: (msg) => {
      const out = fn(msg.value as T, msg.ts);
      // Arrays are the common case: index them rather than pay for an iterator.
      if (Array.isArray(out)) {
        for (let i = 0; i < out.length; i++) emit({ ts: msg.ts, key: msg.key, value: out[i] });
      } else {
        for (const value of out) emit({ ts: msg.ts, key: msg.key, value });
      }
    },
  });
}

export function keyByOperator<T, K>(fn: KeyFn<T, K>): OperatorFactory {
  return passingValues((emit) => ({
    push: (msg: Message) => emit({ ts: msg.ts, key: fn(msg.value as T), value: msg.value }),
  }));
}

/** Passes messages through: the body of a merge point. */
export const identityOperator: OperatorFactory = passingValues((emit) => ({ push: emit }));
