import test from 'ava';
import {
  ALL_TASKS, BroadcastPartitioner, ForwardPartitioner, HashPartitioner, ShufflePartitioner, Task, broadcast, collectionSource,
  createPartitioner, graph, hash, hashKey, memorySink, pipeline, processor, tumbling, shuffle, sinkProcessor, sourceProcessor,
  type Message, type TaskContext,
} from '@tributary/shared';
import { msgs, runToEnd } from './helpers/runtime.js';

const m = (key: unknown): Message => ({ ts: 0, key, value: null });

test('hash: the same key always goes to the same task, across instances (stable over processes)', (t) => {
  const a = new HashPartitioner();
  const b = new HashPartitioner();
  for (const key of ['dev-1', 'dev-2', 42, { site: 'x' }, 'ß']) {
    const first = a.select(m(key), 8);
    for (let i = 0; i < 5; i++) t.is(a.select(m(key), 8), first);
    t.is(b.select(m(key), 8), first);
  }
  // Pinned values: a change to the hash function would silently re-shard state on upgrade.
  t.deepEqual([hashKey('dev-1'), hashKey(42), hashKey('ß')], [404524662, 2226716308, 1510690798]);
  t.not(hashKey(1), hashKey('1'), 'number 1 and string "1" are different keys');
});

test('hash: many keys spread over all tasks, none starved or overloaded', (t) => {
  const p = new HashPartitioner();
  const counts = new Array(4).fill(0);
  for (let i = 0; i < 10_000; i++) counts[p.select(m(`device-${i}`), 4)]++;
  for (const c of counts) t.true(c > 2_000 && c < 3_000, `uneven: ${counts}`);
});

test('shuffle: round-robin, evenly, each sender starting at its own offset', (t) => {
  const p = new ShufflePartitioner(0);
  t.deepEqual(Array.from({ length: 6 }, () => p.select(m(null), 3)), [0, 1, 2, 0, 1, 2]);
  const q = new ShufflePartitioner(2);
  t.deepEqual(Array.from({ length: 3 }, () => q.select(m(null), 3)), [2, 0, 1]);
});

test('broadcast selects every task; forward maps task i to task i', (t) => {
  t.is(new BroadcastPartitioner().select(), ALL_TASKS);
  t.is(new ForwardPartitioner(2).select(m(null), 4), 2);
  t.is(createPartitioner({ type: 'forward' }, 3).select(m(null), 4), 3);
  t.throws(() => createPartitioner({ type: 'nope' as 'hash' }, 0), { instanceOf: TypeError });
});

/** Tags each value with the index of the task that saw it. */
class WhoSawIt extends Task<unknown, { task: number; value: unknown; key: unknown }> {
  constructor(ctx: TaskContext) {
    super(ctx as TaskContext<{ task: number; value: unknown; key: unknown }>);
  }
  onNext(msg: Message): void {
    this.ctx.output({ ts: msg.ts, value: { task: this.ctx.taskId.index, value: msg.value, key: msg.key } });
  }
}

test('in a running pipeline, keyBy gives every key to exactly one of 4 tasks', async (t) => {
  const out = memorySink<{ key: string; start: number; value: number }>();
  const records = msgs(Array.from({ length: 5_000 }, (_, i) => [i, `k${i % 97}`] as [number, string]));
  const p = pipeline('affinity');
  p.source(collectionSource(records)).keyBy((v) => v).window(tumbling(1_000_000)).count().parallelism(4).sink(out);
  await runToEnd(p, { batchSize: 64 });
  // Each (key, window) is counted once in total: no key was split across tasks.
  const seen = new Map<string, number>();
  for (const r of out.values()) seen.set(`${r.key}@${r.start}`, (seen.get(`${r.key}@${r.start}`) ?? 0) + 1);
  t.true([...seen.values()].every((n) => n === 1));
  t.is(out.values().reduce((n, r) => n + r.value, 0), 5_000);
});

test('in a running graph, shuffle spreads evenly and broadcast reaches every task', async (t) => {
  const records = msgs(Array.from({ length: 1_000 }, (_, i) => [i, i] as [number, number]));
  const shuffled = memorySink<{ task: number }>();
  const src = sourceProcessor(collectionSource(records));
  await runToEnd(graph(src.to(processor(WhoSawIt, { parallelism: 4 }), shuffle()).to(sinkProcessor(shuffled))));
  t.deepEqual(countBy(shuffled.values().map((v) => v.task)), { 0: 250, 1: 250, 2: 250, 3: 250 });

  const everywhere = memorySink<{ task: number }>();
  const src2 = sourceProcessor(collectionSource(records.slice(0, 10)));
  await runToEnd(graph(src2.to(processor(WhoSawIt, { parallelism: 3 }), broadcast()).to(sinkProcessor(everywhere))));
  t.deepEqual(countBy(everywhere.values().map((v) => v.task)), { 0: 10, 1: 10, 2: 10 });
});

test('in a running graph, hash keeps each key on one task', async (t) => {
  const records: Message[] = Array.from({ length: 2_000 }, (_, i) => ({ ts: i, key: `k${i % 31}`, value: i }));
  const out = memorySink<{ task: number; key: string }>();
  const src = sourceProcessor(collectionSource(records));
  await runToEnd(graph(src.to(processor(WhoSawIt, { parallelism: 4 }), hash()).to(sinkProcessor(out))), { batchSize: 16 });
  const tasksPerKey = new Map<string, Set<number>>();
  for (const v of out.values()) (tasksPerKey.get(v.key) ?? tasksPerKey.set(v.key, new Set()).get(v.key)!).add(v.task);
  t.is(tasksPerKey.size, 31);
  for (const [key, tasks] of tasksPerKey) t.is(tasks.size, 1, `key ${key} went to tasks ${[...tasks]}`);
  t.is(out.values().length, 2_000);
  t.true(new Set(out.values().map((v) => v.task)).size > 1, 'keys spread over several tasks');
});

function countBy(xs: number[]): Record<number, number> {
  const out: Record<number, number> = {};
  for (const x of xs) out[x] = (out[x] ?? 0) + 1;
  return out;
}
