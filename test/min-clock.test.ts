import test from 'ava';
import {
  Task, collectionSource, graph, memorySink, pipeline, processor, sinkProcessor, sliding, sourceProcessor, tumbling,
  type Message, type TaskContext,
} from '@tributary/shared';
import { msgs, runToEnd } from './helpers/runtime.js';

test('a window fires only once the min-clock passes its end, with results at end - 1', async (t) => {
  const out = memorySink<{ key: string; start: number; end: number; value: number }>();
  const p = pipeline('fires');
  p.source(collectionSource(msgs([[1, 'a'], [5, 'a'], [9, 'b'], [12, 'a'], [25, 'a']]), { maxDelayMs: 0 }))
    .keyBy((v) => v)
    .window(tumbling(10))
    .count()
    .sink(out);
  const { runtime } = await runToEnd(p);
  t.deepEqual(out.messages.map((m) => [m.ts, m.value.key, m.value.start, m.value.end, m.value.value]), [
    [9, 'a', 0, 10, 2],
    [9, 'b', 0, 10, 1],
    [19, 'a', 10, 20, 1],
    [29, 'a', 20, 30, 1],
  ]);
  t.is(runtime.minClock(), Infinity, 'every source ended, so the application clock is +Infinity');
});

/** Records every (clock, message) event a task sees, to check what happens in which order. */
class Probe extends Task {
  static log: string[] = [];
  constructor(ctx: TaskContext) {
    super(ctx);
  }
  onNext(msg: Message): void {
    Probe.log.push(`msg ${msg.ts}`);
  }
  override onClock(clock: number): void {
    Probe.log.push(`clock ${clock}`);
  }
}

test("a task's input clock is the min over its upstream tasks; a source that ends stops holding it back", async (t) => {
  Probe.log = [];
  const fast = sourceProcessor(collectionSource(msgs([[100, 'f'], [200, 'f'], [300, 'f']])), { name: 'fast' });
  const slow = sourceProcessor(collectionSource(msgs([[10, 's'], [20, 's']])), { name: 'slow' });
  const probe = processor(Probe);
  const { runtime } = await runToEnd(graph(fast.to(probe), slow.to(probe)), { batchSize: 1 });
  const clocks = Probe.log.filter((l) => l.startsWith('clock')).map((l) => Number(l.split(' ')[1]));
  // Until "slow" has delivered its last record (20) and ended, the clock cannot pass 20, however
  // far "fast" has got.
  const firstPast20 = Probe.log.findIndex((l) => l.startsWith('clock') && Number(l.split(' ')[1]) > 20);
  t.true(firstPast20 > Probe.log.indexOf('msg 20'), Probe.log.join(', '));
  t.true(clocks.every((c, i) => i === 0 || c > clocks[i - 1]), 'the clock only moves forward');
  t.true(clocks.includes(300), 'once slow ended, fast alone holds the clock');
  t.is(clocks.at(-1), Infinity);
  t.is(Probe.log.filter((l) => l.startsWith('msg')).length, 5);
  t.is(runtime.minClock(), Infinity);
});

test('records behind the clock go to the late output, counted; the rest is exact', async (t) => {
  const out = memorySink<{ key: string; start: number; value: number }>();
  const late = memorySink<string>('late');
  const p = pipeline('late').late(late);
  // maxDelayMs 5: after ts 20 the clock is 15, so 14 is late and 16 is not.
  p.source(collectionSource(msgs([[10, 'x'], [20, 'x'], [14, 'late-1'], [16, 'x'], [3, 'late-2'], [30, 'x']]), { maxDelayMs: 5 }))
    .keyBy(() => 'k')
    .window(tumbling(10))
    .count()
    .sink(out);
  const { summary } = await runToEnd(p);
  t.deepEqual(late.values(), ['late-1', 'late-2']);
  // Accepted: 10, 20, 16, 30 -> [10,20): 2, [20,30): 1, [30,40): 1.
  t.deepEqual(out.values().map((r) => [r.start, r.value]), [[10, 2], [20, 1], [30, 1]]);
  t.is(summary.processors.find((s) => s.name.startsWith('collection'))!.late, 2);
  t.is(summary.lateUndelivered, 0);
});

test('without a late output, late records are counted as undelivered, never silently lost', async (t) => {
  const out = memorySink();
  const p = pipeline('no-late-sink');
  p.source(collectionSource(msgs([[100, 1], [10, 2], [101, 3]]), { maxDelayMs: 0 })).sink(out);
  const { summary } = await runToEnd(p);
  t.deepEqual(out.values(), [1, 3]);
  t.is(summary.lateUndelivered, 1);
});

test('sliding windows assign each record to size/slide windows', async (t) => {
  const out = memorySink<{ start: number; end: number; value: number }>();
  const p = pipeline('sliding');
  p.source(collectionSource(msgs([[0, 1], [4, 1], [5, 1], [11, 1]])))
    .keyBy(() => 'k')
    .window(sliding(10, 5))
    .sum((v) => v)
    .sink(out);
  await runToEnd(p);
  t.deepEqual(out.values().map((r) => [r.start, r.end, r.value]), [[-5, 5, 2], [0, 10, 3], [5, 15, 2], [10, 20, 1]]);
});

test('an aggregate without a window emits once, when the input ends', async (t) => {
  const out = memorySink<{ key: string; value: number }>();
  const p = pipeline('global');
  p.source(collectionSource(msgs([[1, 'a'], [2, 'b'], [1_000_000, 'a']]))).keyBy((v) => v).count().sink(out);
  await runToEnd(p);
  t.deepEqual(out.values().map((r) => [r.key, r.value]), [['a', 2], ['b', 1]]);
  t.true(out.messages.every((m) => m.ts === Number.MAX_SAFE_INTEGER));
});

class EmitsBehindItsClock extends Task {
  onNext(msg: Message): void {
    this.ctx.output(msg);
    this.ctx.output({ ts: msg.ts - 1_500, value: 'stale' });
  }
}

test('a task that emits behind the clock it already passed has those records diverted as late', async (t) => {
  const out = memorySink();
  const late = memorySink('late');
  const src = sourceProcessor(collectionSource(msgs([[5_000, 'a'], [6_000, 'b'], [7_000, 'c']])));
  const g = graph({ late: sinkProcessor(late) }, src.to(processor(EmitsBehindItsClock)).to(sinkProcessor(out)));
  await runToEnd(g, { batchSize: 1 });
  t.deepEqual(out.values().filter((v) => v !== 'stale'), ['a', 'b', 'c']);
  // The first stale record (3500) is not behind any clock yet; 4500 and 5500 are behind the
  // clocks 5000 and 6000 the task had already passed on.
  t.deepEqual(late.values(), ['stale', 'stale']);
  t.is(out.values().length + late.values().length, 6, 'nothing lost');
});

test('a window downstream of another window sees results on time, never late', async (t) => {
  const out = memorySink<{ start: number; value: number }>();
  const late = memorySink('late');
  const p = pipeline('chained-windows').late(late);
  const records = msgs(Array.from({ length: 1_000 }, (_, i) => [i * 7, i] as [number, number]));
  p.source(collectionSource(records, { maxDelayMs: 0 }))
    .keyBy((v) => v % 3)
    .window(tumbling(100))
    .count()
    .keyBy(() => 'all')
    .window(tumbling(1_000))
    .sum((r) => r.value)
    .parallelism(2)
    .sink(out);
  await runToEnd(p, { batchSize: 7 });
  t.deepEqual(late.values(), []);
  t.is(out.values().reduce((n, r) => n + r.value, 0), 1_000);
  t.deepEqual(out.values().map((r) => r.start), [0, 1000, 2000, 3000, 4000, 5000, 6000]);
});
