/**
 * Measuring sinks of the benchmark app. They run in the cloud worker's application thread, stamp
 * every arrival with the wall clock (one machine, one clock: the event time of a record was set
 * by the source on the agent from the same clock) and, when the input ends, write their figures
 * as JSON to `output`, which the benchmark reads back.
 */
import { writeFileSync } from 'node:fs';
import type { Aggregator, SinkSpec, WindowResult } from 'tributary';
import type { FleetReading } from './devices.js';

/** Wall clock with sub-millisecond resolution. */
const now = () => performance.timeOrigin + performance.now();

export interface SinkFigures {
  /** Input records accounted for at the sink (the window sink: the sum of the windows' counts). */
  records: number;
  /** Messages the sink received (windows, or records). */
  results: number;
  /** Smallest event time seen. */
  firstTs: number;
  /**
   * Wall time the first record reached the cloud side: the window operator (its accumulator
   * records when it was created) or, without a window, the sink. Throughput is measured from here
   * to lastArrival, like the baselines' first to last arrival: the time an application takes to
   * start, with its source waiting for its first credits, is not in it.
   */
  firstInput: number;
  firstArrival: number;
  lastArrival: number;
  /** Per-record latency (arrival - event time), ms, over records born `warmupMs` after the first. */
  latency: { measured: number; p50: number; p99: number; max: number } | null;
}


/**
 * Per window: how many readings, the span of their event times, and the wall time the window's
 * first reading arrived. Mergeable for checkpoints.
 */
export interface Span {
  n: number;
  minTs: number;
  maxTs: number;
  firstSeen: number;
}

export function span(): Aggregator<FleetReading, Span, Span> {
  return {
    name: 'span',
    create: () => ({ n: 0, minTs: Infinity, maxTs: -Infinity, firstSeen: now() }),
    add: (acc, r) => {
      acc.n++;
      if (r.ts < acc.minTs) acc.minTs = r.ts;
      if (r.ts > acc.maxTs) acc.maxTs = r.ts;
      return acc;
    },
    result: (acc) => acc,
    merge: (a, b) => ({ n: a.n + b.n, minTs: Math.min(a.minTs, b.minTs), maxTs: Math.max(a.maxTs, b.maxTs), firstSeen: Math.min(a.firstSeen, b.firstSeen) }),
  };
}

interface Measure<T> {
  onBatch(batch: readonly { ts: number; value: T }[], at: number, f: SinkFigures): void;
  onClose?(f: SinkFigures): void;
}

function measuring<T>(name: string, output: string, measure: () => Measure<T>): SinkSpec<T> {
  return {
    kind: 'sink',
    name,
    maxParallelism: 1,
    create: () => {
      const f: SinkFigures = { records: 0, results: 0, firstTs: Infinity, firstInput: Infinity, firstArrival: 0, lastArrival: 0, latency: null };
      const m = measure();
      return {
        open() {},
        write(batch) {
          const at = now();
          if (f.firstArrival === 0) f.firstArrival = at;
          f.lastArrival = at;
          f.results += batch.length;
          m.onBatch(batch, at, f);
        },
        close() {
          m.onClose?.(f);
          writeFileSync(output, JSON.stringify(f));
        },
      };
    },
  };
}

/** Window results of `span()`: records = sum of counts; no latency (a window holds records back). */
export function windowFiguresSink(output: string): SinkSpec<WindowResult<string, Span>> {
  return measuring<WindowResult<string, Span>>('window-figures', output, () => ({
    onBatch(batch, _at, f) {
      for (const m of batch) {
        const span = m.value.value;
        f.records += span.n;
        if (span.minTs < f.firstTs) f.firstTs = span.minTs;
        if (span.firstSeen < f.firstInput) f.firstInput = span.firstSeen;
      }
    },
  }));
}

/** Every record: arrival - event time, after a warm-up of `warmupMs` of event time. */
export function recordFiguresSink(output: string, warmupMs: number): SinkSpec<FleetReading> {
  return measuring<FleetReading>('record-figures', output, () => {
    let latencies = new Float64Array(1 << 16);
    let n = 0;
    let measureFrom = Infinity;
    return {
      onBatch(batch, at, f) {
        f.records += batch.length;
        if (f.firstInput === Infinity) f.firstInput = at;
        for (const m of batch) {
          if (m.ts < f.firstTs) f.firstTs = m.ts;
          if (measureFrom === Infinity) measureFrom = m.ts + warmupMs;
          if (m.ts < measureFrom) continue;
          if (n === latencies.length) {
            const grown = new Float64Array(n * 2);
            grown.set(latencies);
            latencies = grown;
          }
          latencies[n++] = at - m.ts;
        }
      },
      onClose(f) {
        f.latency = latencySummary(latencies.subarray(0, n));
      },
    };
  });
}

export function latencySummary(values: Float64Array): SinkFigures['latency'] {
  if (values.length === 0) return null;
  const sorted = Float64Array.from(values).sort();
  const pct = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
  const r = (x: number) => Math.round(x * 100) / 100;
  return { measured: sorted.length, p50: r(pct(0.5)), p99: r(pct(0.99)), max: r(sorted[sorted.length - 1]) };
}
