/**
 * The unit of data in Tributary: a value born at event time `ts` (epoch milliseconds, integer),
 * optionally carrying the key it was grouped by. Everything else (topics, frames, clocks) is
 * derived from these three fields.
 */
export interface Message<T = unknown> {
  ts: number;
  key?: unknown;
  value: T;
}

/** A clock value: epoch ms, or +Infinity once an input has ended, -Infinity before it started. */
export type ClockValue = number;

export const CLOCK_START: ClockValue = -Infinity;
export const CLOCK_END: ClockValue = Infinity;

/** True when `ts` is a valid event time: a safe integer (epoch milliseconds). */
export function isEventTime(ts: unknown): ts is number {
  return typeof ts === 'number' && Number.isSafeInteger(ts);
}

/** True when `clock` is a valid clock: an integer, or ±Infinity. */
export function isClockValue(clock: unknown): clock is number {
  return typeof clock === 'number' && (Number.isSafeInteger(clock) || clock === Infinity || clock === -Infinity);
}
