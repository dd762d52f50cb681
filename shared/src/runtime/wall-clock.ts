/**
 * Time, injected (MQTT.js's Timer, eKuiper's clock): the runtime and the node host read the time
 * and set timers only through a Clock, so tests of idle timeouts, heartbeats and outages drive a
 * fake clock or wait on events instead of sleeping. `systemClock` is the real one.
 */
export interface Timer {
  /** Cancels the timer; idempotent. */
  cancel(): void;
}

export interface Clock {
  /** Milliseconds since the epoch (Date.now()). */
  now(): number;
  /** Calls `fn` once after `ms`. The timer does not keep the process alive (unref). */
  setTimeout(fn: () => void, ms: number): Timer;
  /** Calls `fn` every `ms` until cancelled. The timer does not keep the process alive (unref). */
  setInterval(fn: () => void, ms: number): Timer;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout(fn, ms) {
    const t = setTimeout(fn, ms);
    t.unref();
    return { cancel: () => clearTimeout(t) };
  },
  setInterval(fn, ms) {
    const t = setInterval(fn, ms);
    t.unref();
    return { cancel: () => clearInterval(t) };
  },
};
