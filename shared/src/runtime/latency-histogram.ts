import type { LatencyBuckets, LatencyPercentiles } from '../wire/assignment.js';

/** Fine buckets: 8 per doubling (each ~9 % wide, so a percentile is within ~4.5 %). */
const SUB = 8;
/** Smallest bucketed value, ms (~1 µs); anything below (0, negative from clock skew) is bucket 0. */
const MIN_MS = 2 ** -10;
/** Doublings covered above MIN_MS: up to 2^32 ms (~50 days); beyond goes to the last bucket. */
const OCTAVES = 42;
const FINE = 1 + SUB * OCTAVES;
const LOG2_MIN = Math.log2(MIN_MS);

/**
 * Upper bounds (ms) of the cumulative buckets a task reports for Prometheus histograms (`le`,
 * in seconds there). Wide on purpose: processing latency is sub-millisecond in one process,
 * event-time latency is seconds behind a window.
 */
export const LATENCY_BOUNDS_MS: readonly number[] = [0.1, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000, 30_000, 60_000, 300_000];

/**
 * A latency distribution that costs nothing per record: fed one sample per batch, into fixed
 * arrays (no allocation after construction). Two views of the same samples:
 * - the interval's log-bucketed histogram, from which a report takes p50/p99/max and resets it
 *   (`takePercentiles`), so each report covers the time since the previous one;
 * - cumulative counts in LATENCY_BOUNDS_MS buckets with their sum, never reset, which the master
 *   turns into Prometheus histograms (counters, so Prometheus can rate() and aggregate them).
 */
export class LatencyHistogram {
  private readonly fine = new Uint32Array(FINE);
  private n = 0;
  private lo = Infinity;
  private hi = -Infinity;
  private readonly totals = new Float64Array(LATENCY_BOUNDS_MS.length + 1);
  private totalN = 0;
  private totalSum = 0;

  /** One sample, ms. Negative values (event time ahead of the wall clock) count as 0. */
  record(ms: number): void {
    if (!(ms > 0)) ms = 0;
    let i = 0;
    if (ms >= MIN_MS) {
      i = 1 + Math.floor((Math.log2(ms) - LOG2_MIN) * SUB);
      if (i >= FINE) i = FINE - 1;
    }
    this.fine[i]++;
    this.n++;
    if (ms < this.lo) this.lo = ms;
    if (ms > this.hi) this.hi = ms;
    const bounds = LATENCY_BOUNDS_MS;
    let b = 0;
    while (b < bounds.length && ms > bounds[b]) b++;
    this.totals[b]++;
    this.totalN++;
    this.totalSum += ms;
  }

  /** Samples since the last takePercentiles(). */
  get samples(): number {
    return this.n;
  }

  /**
   * p50, p99 and max of the samples since the last take (undefined when there were none). A
   * percentile is its bucket's geometric middle, clamped to the exact min and max seen, so
   * p50 <= p99 <= max always holds. Rounded to the microsecond.
   */
  percentiles(): LatencyPercentiles | undefined {
    if (this.n === 0) return undefined;
    return { p50: round(this.quantile(0.5)), p99: round(this.quantile(0.99)), max: round(this.hi), samples: this.n };
  }

  /** percentiles(), then starts a new interval. */
  takePercentiles(): LatencyPercentiles | undefined {
    const p = this.percentiles();
    if (p) {
      this.fine.fill(0);
      this.n = 0;
      this.lo = Infinity;
      this.hi = -Infinity;
    }
    return p;
  }

  /** Every sample since construction, in LATENCY_BOUNDS_MS buckets; undefined before the first. */
  buckets(): LatencyBuckets | undefined {
    if (this.totalN === 0) return undefined;
    return { le: LATENCY_BOUNDS_MS, counts: Array.from(this.totals), sumMs: round(this.totalSum), count: this.totalN };
  }

  /** Adds another histogram's samples (both views) to this one: a processor's from its tasks'. */
  merge(other: LatencyHistogram): void {
    for (let i = 0; i < FINE; i++) this.fine[i] += other.fine[i];
    this.n += other.n;
    if (other.lo < this.lo) this.lo = other.lo;
    if (other.hi > this.hi) this.hi = other.hi;
    for (let i = 0; i < this.totals.length; i++) this.totals[i] += other.totals[i];
    this.totalN += other.totalN;
    this.totalSum += other.totalSum;
  }

  private quantile(q: number): number {
    const rank = Math.max(1, Math.ceil(q * this.n));
    let seen = 0;
    let i = 0;
    for (; i < FINE; i++) {
      seen += this.fine[i];
      if (seen >= rank) break;
    }
    const v = i === 0 ? 0 : 2 ** (LOG2_MIN + (i - 0.5) / SUB);
    return Math.min(this.hi, Math.max(this.lo, v));
  }
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
