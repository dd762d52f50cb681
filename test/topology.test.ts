/**
 * The one topology builder (runtime/topology.ts) that LocalRuntime and AppRuntime both use, and
 * the in-place assignment diff (runtime/assignment-diff.ts): pure wiring, no sockets.
 */
import test from 'ava';
import {
  buildTopology, collectionSource, createLogger, graph, memorySink, processor, sinkProcessor, sourceProcessor, Task,
  type AppAssignment, type Message, type TaskPlacement,
} from '@tributary/shared';
import type { OutChannel } from '../shared/src/runtime/channel.js';
import { ChannelTaskRunner } from '../shared/src/runtime/channel-task-runner.js';
import { SourceTaskRunner } from '../shared/src/runtime/source-task-runner.js';
import { inPlaceAdditions } from '../shared/src/runtime/assignment-diff.js';
import { FakeClock } from './helpers/fake-clock.js';

const silent = createLogger({ level: 'silent' });
class Pass extends Task {
  onNext(msg: Message): void {
    this.ctx.output(msg);
  }
}

/** source (1 task) -> pass (2 tasks) -> sink (1 task). */
function threeStage() {
  const src = sourceProcessor(collectionSource([{ ts: 1, value: 'x' }]), { name: 'src' });
  const pass = processor(Pass, { name: 'pass', parallelism: 2 });
  const sink = sinkProcessor(memorySink(), { name: 'sink' });
  return graph(src.to(pass), pass.to(sink));
}

const events = () => ({ lateDropped: () => {}, failed: () => {}, clock: new FakeClock() });

/** A remote channel factory that records what it was asked for. */
function remoteSpy() {
  const asked: string[] = [];
  const sent: string[] = [];
  const remote = (s: TaskPlacement, r: TaskPlacement): OutChannel => {
    asked.push(`${s.processor}.${s.index}@${s.node}->${r.processor}.${r.index}@${r.node}`);
    return { send: (m, clock) => sent.push(`${r.processor}.${r.index} ${m.length} ${clock}`), whenWritable: () => null };
  };
  return { asked, sent, remote };
}

test('local mode: every task of every processor here, connected by in-process channels', (t) => {
  const g = threeStage();
  const topo = buildTopology({ graph: g, log: silent, events: events() });
  t.deepEqual(topo.byProcessor.map((hs) => hs.length), [1, 2, 1]);
  t.is(topo.hosts.size, 4);
  t.is(topo.sources.length, 1);
  t.true(topo.byProcessor[0][0] instanceof SourceTaskRunner);
  t.true(topo.byProcessor[1].every((h) => h instanceof ChannelTaskRunner));
  t.deepEqual(topo.inbound, []);
  t.deepEqual(topo.byProcessor[1].map((h) => h.id.index), [0, 1]);
  // The source's router reaches both pass tasks (round robin: shuffle), each pass task the sink.
  const src = topo.byProcessor[0][0];
  src.router.output({ ts: 1, value: 'a' });
  src.router.output({ ts: 2, value: 'b' });
  src.router.flush(2);
  t.deepEqual(topo.byProcessor[1].map((h) => h.queued()), [1, 1], 'one batch queued at each receiver (not started)');
  for (const h of topo.byProcessor[1]) h.router.flush(5);
  t.is(topo.byProcessor[2][0].queued(), 2, 'the sink has a channel from each pass task');
});

test('cluster: only the tasks placed here; remote channels for edges leaving; inbound edges listed', (t) => {
  const g = threeStage();
  const placements: TaskPlacement[] = [
    { processor: 0, index: 0, node: 'edge' },
    { processor: 1, index: 0, node: 'edge' },
    { processor: 1, index: 1, node: 'cloud' },
    { processor: 2, index: 0, node: 'cloud' },
  ];
  const edge = remoteSpy();
  const onEdge = buildTopology({ graph: g, placements, nodeId: 'edge', log: silent, events: events(), remote: edge.remote });
  t.deepEqual([...onEdge.hosts.keys()].sort((a, b) => a - b), [0, 65_536]);
  t.deepEqual(edge.asked.sort(), ['0.0@edge->1.1@cloud', '1.0@edge->2.0@cloud']);
  t.deepEqual(onEdge.inbound, [], 'nothing flows into the edge from the cloud');
  const cloud = remoteSpy();
  const onCloud = buildTopology({ graph: g, placements, nodeId: 'cloud', log: silent, events: events(), remote: cloud.remote });
  t.deepEqual([...onCloud.hosts.keys()].sort((a, b) => a - b), [65_537, 131_072]);
  t.deepEqual(cloud.asked, []);
  t.deepEqual(onCloud.inbound.map((e) => `${e.sender.processor}.${e.sender.index}@${e.sender.node}->${e.receiver.processor}.${e.receiver.index}`).sort(),
    ['0.0@edge->1.1', '1.0@edge->2.0']);
  t.is<unknown, unknown>(onCloud.inbound.find((e) => e.receiver.processor === 2)?.host, onCloud.hosts.get(131_072));
  // A task's position among its processor's tasks is its partition; parallelism comes from the placements.
  t.is(onCloud.hosts.get(65_537)?.id.index, 1);
  t.is(onCloud.hosts.get(65_537)?.spec.parallelism, 2);
  // The source here sends to both pass tasks: one locally, one over the (spy) remote channel.
  const src = onEdge.hosts.get(0)!;
  src.router.output({ ts: 1, value: 'a' });
  src.router.output({ ts: 2, value: 'b' });
  src.router.flush(2);
  t.deepEqual(edge.sent, ['1.1 1 2']);
  t.is(onEdge.hosts.get(65_536)!.queued(), 1);
});

test('cluster: a task elsewhere with no remote channel factory is a wiring error', (t) => {
  const placements: TaskPlacement[] = [
    { processor: 0, index: 0, node: 'a' }, { processor: 1, index: 0, node: 'b' }, { processor: 1, index: 1, node: 'a' }, { processor: 2, index: 0, node: 'a' },
  ];
  t.throws(() => buildTopology({ graph: threeStage(), placements, nodeId: 'a', log: silent, events: events() }), { message: /on node b/ });
});

test('hosts read wall time from the injected clock', (t) => {
  const clock = new FakeClock(5_000);
  const topo = buildTopology({ graph: threeStage(), log: silent, events: { lateDropped: () => {}, failed: () => {}, clock } });
  const pass = topo.byProcessor[1][0] as ChannelTaskRunner;
  pass.setIdleTimeout(1000, [0]);
  t.is(clock.pending, 1, 'the idle-source timer runs on the injected clock');
  pass.abort();
  t.is(clock.pending, 0, 'and is cancelled with the task');
});

const assignment = (tasks: TaskPlacement[], epoch = 1): AppAssignment => ({
  app: 'app1', epoch, version: tasks.length, bundle: { sha256: '0', url: '' }, params: {}, tasks,
});

test('assignment diff: a new remote sender into a receiver here is added in place', (t) => {
  const g = threeStage();
  const base: TaskPlacement[] = [
    { processor: 0, index: 0, node: 'dev1' }, { processor: 1, index: 0, node: 'w' }, { processor: 1, index: 1, node: 'w' }, { processor: 2, index: 0, node: 'w' },
  ];
  const grown = [...base, { processor: 0, index: 1, node: 'dev2' }];
  const added = inPlaceAdditions(g, assignment(base), assignment(grown), 'w');
  t.deepEqual(added?.map((a) => `${a.sender.index}@${a.sender.node}->${a.receiver.processor}.${a.receiver.index}`), ['1@dev2->1.0', '1@dev2->1.1']);
  t.deepEqual(inPlaceAdditions(g, assignment(base), assignment(base), 'w'), [], 'the same tasks: nothing to add');
  // A new pass task elsewhere receives from dev1, not from here, and sends into our sink: in place.
  const third = inPlaceAdditions(g, assignment(base), assignment([...base, { processor: 1, index: 2, node: 'w2' }]), 'w');
  t.deepEqual(third?.map((a) => `${a.sender.processor}.${a.sender.index}->${a.receiver.processor}.${a.receiver.index}`), ['1.2->2.0']);
});

test('assignment diff: another epoch, a removal, a task added here or a new receiver of ours needs a restart', (t) => {
  const g = threeStage();
  const base: TaskPlacement[] = [
    { processor: 0, index: 0, node: 'dev1' }, { processor: 1, index: 0, node: 'w' }, { processor: 2, index: 0, node: 'w' },
  ];
  t.is(inPlaceAdditions(g, assignment(base), assignment(base, 2), 'w'), null, 'another epoch');
  t.is(inPlaceAdditions(g, assignment(base), assignment(base.slice(1)), 'w'), null, 'a task removed');
  t.is(inPlaceAdditions(g, assignment(base), assignment([...base, { processor: 0, index: 1, node: 'w' }]), 'w'), null, 'a task added here');
  t.is(inPlaceAdditions(g, assignment(base), assignment([...base, { processor: 2, index: 1, node: 'w2' }]), 'w'), null, 'a new sink task: a new receiver of our pass task');
});
