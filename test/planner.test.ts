import test from 'ava';
import {
  GraphError, Params, Task, collectionSource, describePlan, graph, jsonLinesSink, linesSource, memorySink, pipeline,
  planToJSON, processor, sinkProcessor, sourceProcessor, tumbling, type Message,
} from '@tributary/shared';
import wordcount from '../examples/wordcount.js';
import sensorWindows from '../examples/sensor-windows.js';
import { tributary } from './helpers/cli.js';
import { msgs, runToEnd } from './helpers/runtime.js';

const params = new Params({ input: 'in', output: 'out' });

test('wordcount plans to one fused chain: no shuffle is needed with one task per step', (t) => {
  const plan = planToJSON(wordcount(params).compile());
  t.is(plan.processors.length, 1);
  t.deepEqual(plan.processors[0].chain, ['lines(in)', 'flatMap', 'keyBy', 'window(global, count)', 'map', 'jsonLines(out)']);
  t.deepEqual(plan.edges, []);
});

test('sensor-windows plans to one fused chain plus the late-data sink fed by late edges', (t) => {
  const plan = planToJSON(sensorWindows(new Params({ input: 'in', output: 'out' })).compile());
  t.is(plan.processors.length, 2);
  t.true(plan.processors[1].lateSink);
  t.deepEqual(plan.edges, [{ from: 0, to: 1, partitioner: 'shuffle', kind: 'late' }]);
});

test('a keyed window with its own parallelism breaks the chain at the hash shuffle; the rest fuses', (t) => {
  const p = pipeline('split');
  p.source(linesSource('in'))
    .flatMap((l) => l.split(' '))
    .filter((w) => w !== '')
    .keyBy((w) => w)
    .window(tumbling(1000))
    .count()
    .parallelism(4)
    .map((r) => r.value)
    .sink(jsonLinesSink('out'));
  const plan = planToJSON(p.compile());
  // A file has one writer, so the sink runs as one task behind a 4 -> 1 shuffle.
  t.deepEqual(plan.processors.map((x) => [x.chain.join(' > '), x.parallelism]), [
    ['lines(in) > flatMap > filter > keyBy', 1],
    ['window(tumbling 1000ms, count) > map', 4],
    ['jsonLines(out)', 1],
  ]);
  t.deepEqual(plan.edges.map((e) => [e.from, e.to, e.partitioner]), [[0, 1, 'hash'], [1, 2, 'shuffle']]);
  const text = describePlan(p.compile());
  t.regex(text, /fused chain: window\(tumbling 1000ms, count\) -> map/);
  t.regex(text, /\[0\] -> \[1\]\s+hash\s+\(1 -> 4 tasks\)/);
});

test('equal parallelism with a forward edge fuses; a placement change or a fan-out does not', (t) => {
  const p = pipeline('placement');
  const s = p.source(collectionSource<number>([])).at('edge', { site: 'a' }).map((x) => x + 1);
  s.map((x) => x * 2).at('cloud').sink(memorySink());
  s.filter((x) => x > 0).sink(memorySink());
  const plan = planToJSON(p.compile());
  // The sink after .at('cloud') inherits cloud, so it fuses with the cloud map.
  t.deepEqual(plan.processors.map((x) => x.chain.join(' > ')), ['collection(0) > map', 'map > memory', 'filter > memory']);
  t.deepEqual(plan.processors.map((x) => x.placement.where), ['edge', 'cloud', 'edge']);
  t.deepEqual(plan.edges.map((e) => [e.from, e.to, e.partitioner]), [[0, 1, 'forward'], [0, 2, 'forward']]);
});

test('the fused plan computes the same results as the unfused one', async (t) => {
  const records = msgs(Array.from({ length: 3_000 }, (_, i) => [i * 3, `w${i % 13}`] as [number, string]));
  const build = (parallelism: number) => {
    const out = memorySink<{ key: string; start: number; value: number }>();
    const p = pipeline(`p${parallelism}`);
    p.source(collectionSource(records)).map((w) => w.toUpperCase()).keyBy((w) => w).window(tumbling(500)).count().parallelism(parallelism).sink(out);
    return { p, out };
  };
  const fused = build(1);
  const split = build(3);
  t.is(planToJSON(fused.p.compile()).processors.length, 1);
  // source > map > keyBy | hash | window > sink (the memory sink inherits parallelism 3)
  t.is(planToJSON(split.p.compile()).processors.length, 2);
  await runToEnd(fused.p);
  await runToEnd(split.p);
  const key = (r: { key: string; start: number; value: number }) => `${r.key}@${r.start}=${r.value}`;
  t.deepEqual(split.out.values().map(key).sort(), fused.out.values().map(key).sort());
  t.is(fused.out.values().reduce((n, r) => n + r.value, 0), 3_000);
});

test('malformed pipelines and graphs fail with GraphError explaining why', (t) => {
  const dangling = pipeline('dangling');
  dangling.source(collectionSource([])).map((x) => x);
  t.throws(() => dangling.compile(), { instanceOf: GraphError, message: /never consumed; end it with \.sink/ });

  t.throws(() => pipeline('empty').compile(), { instanceOf: GraphError, message: /has no source/ });

  const tooWide = pipeline('too-wide');
  tooWide.source(collectionSource([])).sink(jsonLinesSink('x'));
  tooWide.nodes.at(-1)!.parallelism = 2;
  t.throws(() => tooWide.compile(), { instanceOf: GraphError, message: /supports parallelism 1/ });

  class Noop extends Task {
    onNext(_m: Message): void {}
  }
  const a = processor(Noop, { name: 'a' });
  const b = processor(Noop, { name: 'b' });
  const src = sourceProcessor(collectionSource([]));
  t.throws(() => graph(src.to(a).to(b), b.to(a)), { instanceOf: GraphError, message: /cycle through: a, b/ });
  t.throws(() => graph(src.to(processor(Noop, { parallelism: 2 }), { type: 'forward' })), { instanceOf: GraphError, message: /forward edge .* needs equal parallelism/ });
  t.throws(() => graph(a.to(b)), { instanceOf: GraphError, message: /"a" has no input and is not a source/ });
  t.throws(() => pipeline('x').source({} as never), { instanceOf: TypeError });
  t.throws(() => pipeline('x').source(collectionSource([])).parallelism(0), { instanceOf: TypeError });
});

test('low-level graph: Graph(A ~> B ~> C, B ~> E ~> D) runs with the diamond-free fan-out', async (t) => {
  class Double extends Task<number, number> {
    onNext(m: Message<number>): void {
      this.ctx.output({ ts: m.ts, value: m.value * 2 });
    }
  }
  class Inc extends Task<number, number> {
    onNext(m: Message<number>): void {
      this.ctx.output({ ts: m.ts, value: m.value + 1 });
    }
  }
  const c = memorySink<number>('c');
  const d = memorySink<number>('d');
  const A = sourceProcessor(collectionSource(msgs([[1, 1], [2, 2], [3, 3]])), { name: 'A' });
  const B = processor(Double, { name: 'B', parallelism: 2 });
  const E = processor(Inc, { name: 'E' });
  const g = graph({ name: 'gearpump-style' }, A.to(B).to(sinkProcessor(c)), B.to(E).to(sinkProcessor(d)));
  t.deepEqual(g.processors.map((p) => p.name), ['A', 'B', 'c', 'E', 'd']);
  await runToEnd(g);
  t.deepEqual(c.values().sort(), [2, 4, 6]);
  t.deepEqual(d.values().sort(), [3, 5, 7]);
});

test('`tributary plan` prints the fused chains, and --json the same plan as data', async (t) => {
  const text = await tributary(['plan', 'examples/sensor-windows.ts']);
  t.is(text.code, 0, text.stderr);
  t.regex(text.stdout, /fused chain: jsonLines\(<input>\) -> keyBy -> window\(tumbling 10000ms, stats\) -> map -> jsonLines\(<output>\)/);
  const json = await tributary(['plan', 'examples/wordcount.ts', '--json']);
  t.is(json.code, 0, json.stderr);
  t.is(JSON.parse(json.stdout).processors[0].chain.length, 6);
});
