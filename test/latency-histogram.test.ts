import test from 'ava';
import { collectionSource, memorySink, pipeline } from '@tributary/shared';
import { HeavyHitters, KEY_SAMPLE_EVERY, KeySampler, keyString } from '../shared/src/runtime/heavy-hitters.js';
import { LATENCY_BOUNDS_MS, LatencyHistogram } from '../shared/src/runtime/latency-histogram.js';
import { newTaskMetrics } from '../shared/src/runtime/task-metrics.js';
import { runToEnd } from './helpers/runtime.js';

/** Exact percentile by the same rank rule (ceil(q·n)), for comparison. */
const exact = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.max(1, Math.ceil(q * xs.length)) - 1];

test('percentiles are within the bucket width of the exact ones, max is exact, p50 <= p99 <= max', (t) => {
  const h = new LatencyHistogram();
  // A long-tailed mix: most around 2-20 ms, a few seconds-long outliers.
  let seed = 7;
  const rnd = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
  const xs = Array.from({ length: 5000 }, (_, i) => (i % 100 === 0 ? 1000 + rnd() * 4000 : 2 + rnd() * 18));
  for (const x of xs) h.record(x);
  const p = h.percentiles()!;
  t.is(p.samples, 5000);
  t.is(p.max, Math.round(Math.max(...xs) * 1000) / 1000);
  for (const [q, got] of [[0.5, p.p50], [0.99, p.p99]] as const) {
    const want = exact(xs, q);
    t.true(Math.abs(got - want) / want < 0.05, `p${q * 100}: ${got} vs exact ${want}`);
  }
  t.true(p.p50 <= p.p99 && p.p99 <= p.max);
});

test('a report interval starts afresh; cumulative buckets keep counting', (t) => {
  const h = new LatencyHistogram();
  t.is(h.percentiles(), undefined, 'nothing recorded: no percentiles');
  t.is(h.buckets(), undefined);
  for (const x of [0.05, 3, 3, 700]) h.record(x);
  const first = h.takePercentiles()!;
  t.deepEqual([first.samples, first.max], [4, 700]);
  t.is(h.takePercentiles(), undefined, 'the next interval had no samples');
  h.record(40);
  t.deepEqual(h.takePercentiles(), { p50: 40, p99: 40, max: 40, samples: 1 }, 'a single sample is every percentile');
  const b = h.buckets()!;
  t.deepEqual(b.le, LATENCY_BOUNDS_MS);
  t.is(b.counts.length, LATENCY_BOUNDS_MS.length + 1);
  t.is(b.count, 5);
  t.is(b.sumMs, 746.05);
  // 0.05 <= 0.1; 3 <= 5 (twice); 40 <= 50; 700 <= 1000: each in the first bucket whose bound it does not exceed.
  const at = (le: number) => b.counts[LATENCY_BOUNDS_MS.indexOf(le)];
  t.deepEqual([at(0.1), at(5), at(50), at(1000)], [1, 2, 1, 1]);
  t.is(b.counts.reduce((a, c) => a + c, 0), 5);
});

test('negative samples (event time ahead of the wall clock) count as 0; huge ones land in the overflow bucket', (t) => {
  const h = new LatencyHistogram();
  h.record(-25);
  h.record(1e13);
  const p = h.percentiles()!;
  t.is(p.p50, 0);
  t.is(p.max, 1e13);
  const b = h.buckets()!;
  t.is(b.counts[0], 1);
  t.is(b.counts[b.counts.length - 1], 1);
});

test('merging histograms is the same as recording into one', (t) => {
  const a = new LatencyHistogram();
  const b = new LatencyHistogram();
  const all = new LatencyHistogram();
  for (let i = 1; i <= 300; i++) {
    (i % 3 ? a : b).record(i * 1.7);
    all.record(i * 1.7);
  }
  a.merge(b);
  t.deepEqual(a.percentiles(), all.percentiles());
  t.deepEqual(a.buckets(), all.buckets());
});

test('Space-Saving keeps the heavy hitters of a skewed stream, hottest first', (t) => {
  const hh = new HeavyHitters(16);
  // 3 hot keys among 2,000 cold ones.
  for (let i = 0; i < 40_000; i++) {
    const r = i % 10;
    hh.offer(r < 3 ? 'hot-a' : r < 5 ? 'hot-b' : r < 6 ? 'hot-c' : `cold-${i % 2000}`);
  }
  const top = hh.top(3);
  t.deepEqual(top.map(([k]) => k), ['hot-a', 'hot-b', 'hot-c']);
  // Counts overestimate by at most the stream length / capacity.
  t.true(top[0][1] >= 12_000 && top[0][1] <= 12_000 + 40_000 / 16, String(top[0][1]));
  t.is(hh.size, 16, 'fixed size');
});

test('the key sampler takes about one message in 16, even when keys repeat with a period of 16', (t) => {
  const s = new KeySampler(3);
  const n = 160_000;
  // A periodic pattern that a fixed stride of 16 would alias with (it would only ever see k0).
  const batch = Array.from({ length: 1000 }, (_, i) => ({ ts: i, key: `k${i % 16}`, value: null }));
  for (let i = 0; i < n / batch.length; i++) s.sample(batch);
  const top = s.sketch.top(16);
  t.is(top.length, 16, 'every key of the period was sampled');
  const total = top.reduce((a, [, c]) => a + c, 0);
  t.true(Math.abs(total - n) / n < 0.05, `estimated ${total} of ${n} records`);
  for (const [k, c] of top) t.true(Math.abs(c - n / 16) / (n / 16) < 0.2, `${k}: ${c}`);
  t.is(total % KEY_SAMPLE_EVERY, 0, 'each sample weighs KEY_SAMPLE_EVERY records');
});

test('keys print as the dashboard shows them; unkeyed messages are not sampled', (t) => {
  t.is(keyString('a/b'), 'a/b');
  t.is(keyString(42), '42');
  t.is(keyString({ d: 1 }), '{"d":1}');
  const m = newTaskMetrics();
  m.keys.sample(Array.from({ length: 1000 }, (_, i) => ({ ts: i, value: i })));
  t.deepEqual(m.takeProbeReport(), {}, 'no latency recorded and no keys: nothing to report');
});

test('local mode: a keyed channel-fed processor reports latency and its hot key; a source reports latency only', async (t) => {
  const now = Date.now();
  const records = Array.from({ length: 20_000 }, (_, i) => ({ ts: now + i, value: i % 4 === 0 ? 'hot' : `w${i % 500}` }));
  const p = pipeline('probes');
  p.source(collectionSource(records)).keyBy((w) => w).parallelism(2).map((w) => w).sink(memorySink());
  const { summary } = await runToEnd(p, { batchSize: 256 });
  const keyed = summary.processors.find((x) => x.topKeys)!;
  t.truthy(keyed, JSON.stringify(summary.processors.map((x) => x.name)));
  t.is(keyed.topKeys![0][0], 'hot');
  t.true(Math.abs(keyed.topKeys![0][1] - 5000) < 1500, `hot ~5,000: ${keyed.topKeys![0][1]}`);
  for (const l of [keyed.latencyMs!, keyed.processingMs!]) {
    t.true(l.samples > 0);
    t.true(l.p50 >= 0 && l.p50 <= l.p99 && l.p99 <= l.max, JSON.stringify(l));
  }
  const source = summary.processors.find((x) => x.id === 0)!;
  // One sample of each per batch read (event time is ahead of the wall clock here: 0 ms).
  t.true(source.latencyMs!.samples > 0 && source.latencyMs!.samples === source.processingMs!.samples, JSON.stringify(source));
  t.is(source.latencyMs!.max, 0, 'event time ahead of the wall clock counts as 0');
  t.true(source.processingMs!.p50 <= source.processingMs!.p99 && source.processingMs!.p99 <= source.processingMs!.max, JSON.stringify(source.processingMs));
  t.is(source.topKeys, undefined, 'source tasks sample no keys');
});
