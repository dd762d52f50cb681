import test from 'ava';
import { setImmediate as nextTick } from 'node:timers/promises';
import { collectionSource, pipeline, type SinkSpec } from '@tributary/shared';
import { msgs, runToEnd } from './helpers/runtime.js';

/** A sink that takes a turn of the event loop per batch: far slower than the source. */
function slowSink(received: number[]): SinkSpec<number> {
  return {
    kind: 'sink',
    name: 'slow',
    maxParallelism: 4,
    create: () => ({
      open() {},
      async write(batch) {
        await nextTick();
        for (const m of batch) received.push(m.value);
      },
      close() {},
    }),
  };
}

test('a slow sink throttles a fast source: queues stay within the credits, nothing is lost', async (t) => {
  const received: number[] = [];
  const n = 100_000;
  const p = pipeline('backpressure');
  p.source(collectionSource(msgs(Array.from({ length: n }, (_, i) => [i, i] as [number, number]))))
    .map((x) => x)
    .rebalance()
    .parallelism(2)
    .sink(slowSink(received));
  const credits = 4;
  const { summary } = await runToEnd(p, { batchSize: 100, credits });
  t.is(received.length, n);
  t.deepEqual([...new Set(received)].length, n, 'no duplicates');
  const sink = summary.processors.find((s) => s.name.includes('slow'))!;
  // One inbound channel per sink task: at most `credits` batches plus the final clock-only batch.
  t.true(sink.maxQueued <= credits + 1, `sink queue reached ${sink.maxQueued} batches`);
  t.true(sink.maxQueued >= 2, 'the sink really was the bottleneck');
});
