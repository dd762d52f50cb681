/**
 * The control plane's per-node view and clock at fleet scale, pure parts: each node's desired
 * state carries its own tasks and the routes they need (PlacementIndex), and the node wires them
 * exactly as it would from the whole placement; the clock service's running minimum (MinTracker)
 * matches a full pass after every report; the broker answers SUBSCRIBE from an index of retained
 * topics (indexRetained), with the messages MQTT matching gives.
 */
import { Readable } from 'node:stream';
import test from 'ava';
import {
  buildTopology, createLogger, fleet, graph, memorySink, processor, sinkProcessor, sourceProcessor, Task,
  type Message, type TaskPlacement,
} from '@tributary/shared';
import type { OutChannel } from '../shared/src/runtime/channel.js';
import { indexRetained, matches } from '../cloud-core/src/broker/retained-index.js';
import { PlacementIndex } from '../cloud-core/src/master/node-tasks.js';
import { MinTracker } from '../cloud-core/src/master/min-tracker.js';
import { schedule } from '../cloud-core/src/master/scheduler.js';
import { FakeClock } from './helpers/fake-clock.js';

const silent = createLogger({ level: 'silent' });
class Pass extends Task {
  onNext(msg: Message): void {
    this.ctx.output(msg);
  }
}

/** A source with one task per agent (20) -> a cloud stage (2 tasks on 2 workers) -> a cloud sink (1). */
function fleetApp() {
  const src = sourceProcessor(fleet({ devices: 20, count: 1 }), { name: 'src', parallelism: 20 });
  const cloud = processor(Pass, { name: 'cloud', parallelism: 2 });
  const sink = sinkProcessor(memorySink(), { name: 'sink' });
  return graph(src.to(cloud), cloud.to(sink));
}

/** Agents a0..a19 (task i of the source on agent a(19 - i): index order differs from node order), two workers. */
function placementOf(agents: number): TaskPlacement[] {
  const tasks: TaskPlacement[] = [];
  for (let i = 0; i < agents; i++) tasks.push({ processor: 0, index: i, node: `a${agents - 1 - i}` });
  tasks.push({ processor: 1, index: 0, node: 'w1' }, { processor: 1, index: 1, node: 'w2' }, { processor: 2, index: 0, node: 'w1' });
  return tasks;
}

type App = ReturnType<typeof fleetApp>;

function wiring(g: App, node: string, placements: readonly TaskPlacement[], taskCounts?: Readonly<Record<string, number>>) {
  const routes: string[] = [];
  const remote = (s: TaskPlacement, r: TaskPlacement): OutChannel => {
    routes.push(`${s.processor}.${s.index}->${r.processor}.${r.index}@${r.node}`);
    return { send: () => {}, whenWritable: () => null };
  };
  const topo = buildTopology({
    graph: g, placements, ...(taskCounts ? { taskCounts } : {}), nodeId: node, log: silent,
    events: { lateDropped: () => {}, failed: () => {}, clock: new FakeClock() }, remote,
  });
  const hosts = [...topo.hosts.entries()].map(([addr, h]) => `${addr}:${h.id.processor}.${h.id.index}/${h.ctx.parallelism}`).sort();
  const inbound = topo.inbound.map((e) => `${e.sender.processor}.${e.sender.index}@${e.sender.node}->${e.receiver.processor}.${e.receiver.index}`).sort();
  return { hosts, routes: routes.sort(), inbound };
}

function indexOf(g: App, tasks: readonly TaskPlacement[]): PlacementIndex {
  return new PlacementIndex({ edges: g.edges.map((e) => ({ from: e.from, to: e.to, partitioner: e.partitioner.type, kind: e.kind })) }, tasks);
}

test('an agent is sent its own task and the tasks it sends to, not the fleet', (t) => {
  const g = fleetApp();
  const ix = indexOf(g, placementOf(20));
  const part = ix.forNode('a7');
  t.deepEqual(part.tasks.map((x) => `${x.processor}.${x.index}@${x.node}`), ['0.12@a7', '1.0@w1', '1.1@w2']);
  t.is(part.tasks[0].position, 12, 'its place among the source tasks sorted by index');
  t.deepEqual(part.taskCounts, { 0: 20 }, 'the source is listed partially: its task count travels with it');
  t.false(ix.hosts('elsewhere'));
  t.deepEqual(ix.forNode('elsewhere').tasks, []);
});

test('a worker is sent every sender into its tasks and every receiver of them', (t) => {
  const g = fleetApp();
  const ix = indexOf(g, placementOf(20));
  const w2 = ix.forNode('w2');
  t.is(w2.tasks.length, 22, 'all 20 source tasks (its inputs), its own cloud task, the sink (its output)');
  t.deepEqual(w2.taskCounts, { 1: 2 }, 'its own processor partially: the other worker\'s cloud task is nothing it talks to');
});

test('every node wires its part exactly as it would from the whole placement (positions, parallelism, routes, inbound channels)', (t) => {
  const g = fleetApp();
  const all = placementOf(20);
  const ix = indexOf(g, all);
  for (const node of ['a0', 'a7', 'a19', 'w1', 'w2']) {
    const part = ix.forNode(node);
    t.deepEqual(wiring(g, node, part.tasks, part.taskCounts), wiring(g, node, all), node);
  }
});

test('the scheduler places one edge task per matching agent and keeps placed ones (10,000 agents)', (t) => {
  const nodes = Array.from({ length: 10_000 }, (_, i) => ({ id: `n${String(i).padStart(5, '0')}`, kind: 'agent' as const, labels: { fleet: i % 2 ? 'x' : 'y' }, slots: 4, online: true }));
  const processors = [{ id: 0, parallelism: 1, placement: { where: 'edge' as const, selector: { fleet: 'x' } } }];
  const first = schedule(processors, nodes.slice(0, 9_000));
  t.is(first.tasks.length, 4_500);
  const second = schedule(processors, nodes, first.tasks);
  t.is(second.tasks.length, 5_000);
  t.deepEqual(second.tasks.slice(0, 4_500), first.tasks, 'placed tasks keep their node and index');
  t.is(new Set(second.tasks.map((x) => x.index)).size, 5_000, 'new tasks get the next free indexes');
});

test('MinTracker: the minimum after every change equals a full pass (unset keys count as -Infinity)', (t) => {
  let seed = 7;
  const rnd = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
  let keys = Array.from({ length: 200 }, (_, i) => i);
  const values = new Map<number, number>();
  let tracker = new MinTracker(keys);
  const expected = () => Math.min(...keys.map((k) => values.get(k) ?? -Infinity));
  for (let step = 0; step < 20_000; step++) {
    if (step % 5_000 === 4_999) {
      // A new placement: some keys go, some come; the values of kept keys carry over.
      keys = keys.filter(() => rnd() > 0.1).concat(Array.from({ length: 10 }, (_, i) => 1_000 + step + i));
      tracker = new MinTracker(keys, tracker);
    }
    const k = rnd() < 0.05 ? 99_999 : keys[Math.floor(rnd() * keys.length)];
    const v = rnd() < 0.02 ? Infinity : Math.floor(rnd() * 1_000_000);
    tracker.set(k, v);
    if (keys.includes(k)) values.set(k, v);
    t.is(tracker.min(), expected(), `step ${step}`);
  }
});

test('retained index: SUBSCRIBE gets the retained messages MQTT matching gives, from an index', async (t) => {
  const stored: string[] = [];
  const persistence = {
    storeRetained: (p: { topic: string }) => {
      stored.push(p.topic);
      return Promise.resolve();
    },
    createRetainedStream: (_pattern: string) => Readable.from([]),
    createRetainedStreamCombi: (_patterns: string[]) => Readable.from([]),
  };
  indexRetained(persistence);
  const put = (topic: string, payload = 'x') => persistence.storeRetained({ topic, payload: Buffer.from(payload) } as never);
  for (const n of ['a', 'b', 'c']) {
    await put(`trib/${n}/hello`);
    await put(`trib/${n}/status`);
  }
  await put('trib/master/ctl/a');
  await put('trib/master/ctl/b');
  await put('trib/master/clock/app1');
  await put('trib/b/data/a/app1/0');
  await put('trib/master/ctl/b', ''); // an empty retained payload deletes
  t.is(stored.length, 11, 'aedes\'s own store still gets every retained message');
  const get = async (...patterns: string[]) => {
    const out: string[] = [];
    for await (const p of persistence.createRetainedStreamCombi(patterns)) out.push((p as { topic: string }).topic);
    return out.sort();
  };
  t.deepEqual(await get('trib/master/ctl/a'), ['trib/master/ctl/a']);
  t.deepEqual(await get('trib/master/ctl/b'), [], 'deleted');
  t.deepEqual(await get('trib/+/status'), ['trib/a/status', 'trib/b/status', 'trib/c/status']);
  t.deepEqual(await get('trib/+/data/a/#'), ['trib/b/data/a/app1/0']);
  t.deepEqual(await get('trib/+/data/b/#'), []);
  t.deepEqual(await get('trib/master/clock/+'), ['trib/master/clock/app1']);
  t.deepEqual(await get('trib/master/#'), ['trib/master/clock/app1', 'trib/master/ctl/a']);
  t.deepEqual(await get('trib/master/ctl/a/#'), ['trib/master/ctl/a'], '# matches its parent level too');
  t.deepEqual(await get('#'), (await get('trib/#')));
  t.is((await get('#')).length, 9);
  t.deepEqual(await get('nothing/+'), []);
  t.deepEqual(await get('trib/a/hello', 'trib/+/hello'), ['trib/a/hello', 'trib/a/hello', 'trib/b/hello', 'trib/c/hello'], 'per pattern, as aedes does');
  t.true(matches(['a', '+', '#'], ['a', 'b']) && !matches(['a', '+'], ['a']) && matches(['+'], ['']));
});

