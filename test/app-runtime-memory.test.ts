/**
 * Two AppRuntimes ("nodes" a and b) in one process over the in-memory transport: no sockets, a
 * FakeClock for the credit-refresh / AckRequest tick, and the broker's fault hook to drop or
 * duplicate single frames. The source runs on a, the sink on b, so every record crosses the wire.
 */
import test from 'ava';
import {
  AppRuntime, MemoryBroker, cborDecoder, createLogger, decodeFrame, graph, memorySink, sinkProcessor, sourceProcessor, topics,
  type AppAssignment, type Delivery, type Fault, type Message, type SourceSpec, type Transport,
} from '@tributary/shared';
import { CREDIT_REFRESH_MS } from '../shared/src/runtime/wire-channels.js';
import { MemoryReplayLog } from '../shared/src/store/memory-replay-log.js';
import { FakeClock } from './helpers/fake-clock.js';

const silent = createLogger({ level: 'silent' });

/** A source the test feeds batch by batch, and ends when it says so. */
function gatedSource() {
  const queue: Message<number>[][] = [];
  let ended = false;
  let wake: (() => void) | null = null;
  const spec: SourceSpec<number> = {
    kind: 'source', name: 'gated', watermark: { maxDelayMs: 0 }, maxParallelism: 1,
    create: () => ({
      open() {},
      async read() {
        while (queue.length === 0 && !ended) await new Promise<void>((r) => (wake = r));
        return queue.shift() ?? null;
      },
      close() {},
    }),
  };
  const poke = () => {
    const w = wake;
    wake = null;
    w?.();
  };
  return {
    spec,
    push: (...ts: number[]) => (queue.push(ts.map((t) => ({ ts: t, value: t }))), poke()),
    end: () => ((ended = true), poke()),
  };
}

/** Resolves once `cond` holds after a message reached `transport` (checked at once, too). */
function whenAfterMessage(transport: Transport, cond: () => boolean): Promise<void> {
  return new Promise((resolve) => {
    if (cond()) return resolve();
    const off = transport.onMessage(() => {
      if (!cond()) return;
      off();
      resolve();
    });
  });
}

function memoryPartLog() {
  const log = new MemoryReplayLog();
  return { log, open: async () => {}, close: async () => {}, diskBytes: async () => 0 };
}

const isData = (d: Delivery) => d.topic.split('/')[2] === 'data';

async function twoNodes(t: { teardown(fn: () => unknown): void }, options: { replayLog?: boolean } = {}) {
  const broker = new MemoryBroker();
  const clock = new FakeClock();
  const src = gatedSource();
  const out = memorySink<number>();
  const g = graph(sourceProcessor(src.spec, { name: 'src' }).to(sinkProcessor(out, { name: 'sink' })));
  const assignment: AppAssignment = {
    app: 'app1', epoch: 1, version: 1, bundle: { sha256: '0', url: '' }, params: {},
    tasks: [{ processor: 0, index: 0, node: 'a' }, { processor: 1, index: 0, node: 'b' }],
  };
  const node = async (id: string) => {
    const transport = await broker.connect({ clientId: id, log: silent });
    await transport.subscribe([topics.dataFilterFor(id), topics.creditFilterFor(id)], 1);
    const replay = options.replayLog ? { log: memoryPartLog(), quotaBytes: 0, policy: 'block' as const } : undefined;
    const runtime = new AppRuntime({ graph: g, assignment, nodeId: id, nodeLabels: {}, transport, log: silent, clock, ...(replay ? { replay } : {}) });
    t.teardown(() => (runtime.abort(), transport.close()));
    return { transport, runtime };
  };
  const a = await node('a');
  const b = await node('b');
  await b.runtime.start();
  await a.runtime.start();
  const sinkTask = b.runtime.hosts.get(65_536)!;
  return { broker, clock, src, out, a, b, sinkTask };
}

test('every record crosses from node a to node b once, in order, and both finish', async (t) => {
  const { src, out, a, b } = await twoNodes(t);
  src.push(1, 2, 3);
  src.push(4, 5);
  src.end();
  await Promise.all([a.runtime.finished, b.runtime.finished]);
  t.deepEqual(out.values(), [1, 2, 3, 4, 5]);
  t.is(b.runtime.stats.framesIn, a.runtime.stats.framesOut);
  t.like(b.runtime.stats, { gaps: 0, duplicates: 0, framesFenced: 0, framesRejected: 0 });
});

test('with a replay log, the source batches go on the wire as the log encoded them (encode once)', async (t) => {
  const { src, out, a, b } = await twoNodes(t, { replayLog: true });
  src.push(1, 2, 3);
  src.push(4, 5);
  src.end();
  await Promise.all([a.runtime.finished, b.runtime.finished]);
  t.deepEqual(out.values(), [1, 2, 3, 4, 5]);
  t.is(a.runtime.stats.framesReusingValues, 2, 'both data frames; the end-of-stream clock step has no values');
});

test('a duplicated frame is recognised by its sequence number and ignored', async (t) => {
  const { broker, src, out, a, b } = await twoNodes(t);
  broker.faults = (d): Fault => (isData(d) && decodeFrame(d.payload).messages.length > 0 ? 'duplicate' : 'deliver');
  src.push(1, 2, 3);
  src.push(4, 5);
  src.end();
  await Promise.all([a.runtime.finished, b.runtime.finished]);
  t.deepEqual(out.values(), [1, 2, 3, 4, 5], 'exactly once despite the redeliveries');
  t.is(broker.stats.duplicated, 2);
  t.is(b.runtime.stats.duplicates, 2);
  t.is(b.runtime.stats.gaps, 0);
});

test('a dropped frame is detected as a gap: the channel freezes and the sink clock never ends', async (t) => {
  const { broker, clock, src, out, a, b, sinkTask } = await twoNodes(t);
  broker.faults = (d): Fault => (isData(d) && decodeFrame(d.payload).firstSeq === 3 ? 'drop' : 'deliver');
  // Credit totals b announces to a: 32 + frames the sink has processed; every 16 frames, and on a
  // quiet channel by the refresh tick.
  let credit = 0;
  a.transport.onMessage((topic, payload) => {
    if (topic.split('/')[2] === 'credit') for (const [, total] of cborDecoder.decode(payload) as [number, number][]) credit = Math.max(credit, total);
  });
  src.push(1, 2, 3);
  src.push(4, 5); // lost on the wire
  src.push(6);
  src.end();
  await whenAfterMessage(b.transport, () => b.runtime.stats.framesIn === 3);
  t.is(broker.stats.dropped, 1);
  t.is(b.runtime.stats.gaps, 1, 'the frame after the lost one reveals the gap');
  // The first tick sees the frames' arrival; the second, a quiet channel: its total is announced.
  clock.advance(CREDIT_REFRESH_MS);
  clock.advance(CREDIT_REFRESH_MS);
  await whenAfterMessage(a.transport, () => credit >= 33); // the first frame was processed
  t.deepEqual(out.values(), [1, 2, 3], 'nothing after the gap is taken');
  t.true(Number.isFinite(sinkTask.inputClock), 'the sink waits for the recovery: its clock cannot pass the loss');
  t.is(a.runtime.stats.framesOut, 4);
});

test('a lost last frame is revealed by the AckRequest after a silent tick of the (fake) clock', async (t) => {
  const { broker, clock, src, b } = await twoNodes(t);
  let dropped!: () => void;
  const lost = new Promise<void>((r) => (dropped = r));
  broker.faults = (d): Fault => {
    if (!isData(d) || decodeFrame(d.payload).firstSeq !== 3) return 'deliver';
    dropped();
    return 'drop';
  };
  src.push(1, 2, 3);
  src.push(4, 5); // lost, and then the source is silent
  await lost;
  await whenAfterMessage(b.transport, () => b.runtime.stats.framesIn === 1);
  t.is(b.runtime.stats.gaps, 0, 'nothing reveals the loss yet');
  clock.advance(CREDIT_REFRESH_MS); // the tick in which the last frame went out
  t.is(b.runtime.stats.gaps, 0);
  clock.advance(CREDIT_REFRESH_MS); // a whole silent tick: the AckRequest goes
  await whenAfterMessage(b.transport, () => b.runtime.stats.gaps === 1);
  t.is(b.runtime.stats.framesIn, 2, 'one data frame and the empty AckRequest');
});
