import type { Clock, Timer } from '../../shared/src/runtime/wall-clock.js';

interface Pending { at: number; every: number; fn: () => void; id: number }

/**
 * A Clock that moves only when told: advance(ms) runs every timer that falls due, in time order,
 * each at its own time (now() reads that time inside the callback).
 */
export class FakeClock implements Clock {
  private t: number;
  private timers: Pending[] = [];
  private nextId = 0;

  constructor(start = 1_700_000_000_000) {
    this.t = start;
  }

  now(): number {
    return this.t;
  }

  setTimeout(fn: () => void, ms: number): Timer {
    return this.add(fn, ms, 0);
  }

  setInterval(fn: () => void, ms: number): Timer {
    return this.add(fn, ms, Math.max(1, ms));
  }

  /** Moves time forward by `ms`, running due timers in order. */
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      this.timers.sort((a, b) => a.at - b.at || a.id - b.id);
      const next = this.timers[0];
      if (!next || next.at > end) break;
      this.t = next.at;
      if (next.every > 0) next.at += next.every;
      else this.timers.shift();
      next.fn();
    }
    this.t = end;
  }

  /** Timers still pending. */
  get pending(): number {
    return this.timers.length;
  }

  private add(fn: () => void, ms: number, every: number): Timer {
    const p: Pending = { at: this.t + Math.max(0, ms), every, fn, id: this.nextId++ };
    this.timers.push(p);
    return { cancel: () => (this.timers = this.timers.filter((x) => x !== p)) };
  }
}
