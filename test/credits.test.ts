/**
 * The sending side of credit-based flow control, without a broker: CreditGate, LocalChannel,
 * RemoteChannel (cumulative totals, AckRequest) and CreditBatcher; and WireChannels' refresh tick
 * on a FakeClock over the in-memory transport.
 */
import test from 'ava';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { cborDecoder, createLogger, decodeFrame, MemoryBroker, topics, type Message } from '@tributary/shared';
import { CreditGate } from '../shared/src/runtime/credit-gate.js';
import { CreditBatcher } from '../shared/src/runtime/credit-batcher.js';
import { LocalChannel } from '../shared/src/runtime/local-channel.js';
import { RemoteChannel } from '../shared/src/runtime/remote-channel.js';
import { CREDIT_REFRESH_MS, EARLY_REANNOUNCE_MS, WireChannels, type WireStats } from '../shared/src/runtime/wire-channels.js';
import type { InboundBatch } from '../shared/src/runtime/channel.js';
import { FakeClock } from './helpers/fake-clock.js';

const silent = createLogger({ level: 'silent' });
const batch = (n: number): Message[] => Array.from({ length: n }, (_, i) => ({ ts: i, value: i }));

test('CreditGate: open while credit lasts; one shared promise that open() resolves only with credit', async (t) => {
  const gate = new CreditGate();
  t.is(gate.whenOpen(1), null);
  const a = gate.whenOpen(0);
  const b = gate.whenOpen(0);
  t.truthy(a);
  t.is(a, b, 'every waiter shares one promise');
  let resolved = false;
  void a!.then(() => (resolved = true));
  gate.open(0);
  await nextTurn();
  t.false(resolved, 'no credit yet: still closed');
  gate.open(2);
  await a;
  t.true(resolved);
  t.not(gate.whenOpen(0), a, 'the next wait is a new promise');
});

test('LocalChannel: each send takes a credit, each release gives it back and wakes the sender', async (t) => {
  const got: InboundBatch[] = [];
  const ch = new LocalChannel({ enqueue: (b) => got.push(b) }, 5, 2);
  ch.send(batch(3), 10);
  t.is(ch.whenWritable(), null);
  ch.send(batch(1), 11);
  const wait = ch.whenWritable();
  t.truthy(wait, 'two batches in flight: no credit left');
  t.deepEqual(got.map((b) => [b.channel, b.messages.length, b.clock]), [[5, 3, 10], [5, 1, 11]]);
  got[0].release();
  await wait;
  t.is(ch.whenWritable(), null);
});

test('RemoteChannel: credits are cumulative totals; stale or repeated grants change nothing', (t) => {
  const frames: Uint8Array[] = [];
  const ch = new RemoteChannel({ app: 'app1', epoch: 3, sender: 9 }, (f) => frames.push(f));
  t.truthy(ch.whenWritable(), 'no credit before the receiver announced any');
  ch.grant(2);
  t.is(ch.whenWritable(), null);
  ch.send(batch(4), 100);
  ch.send(batch(2), 200);
  t.truthy(ch.whenWritable(), 'two frames sent of a total of two');
  ch.grant(2);
  ch.grant(1);
  t.truthy(ch.whenWritable(), 'an old or repeated total gives nothing');
  ch.grant(3);
  t.is(ch.whenWritable(), null);
  const decoded = frames.map((f) => decodeFrame(f));
  t.deepEqual(decoded.map((f) => [f.app, f.epoch, f.sender, f.firstSeq, f.messages.length, f.clock]), [
    ['app1', 3, 9, 0, 4, 100],
    ['app1', 3, 9, 4, 2, 200],
  ], 'sequence numbers count messages');
});

test('RemoteChannel.tick: an AckRequest follows a whole silent tick, once, with the next sequence number', (t) => {
  const frames: Uint8Array[] = [];
  const ch = new RemoteChannel({ app: 'app1', epoch: 0, sender: 1 }, (f) => frames.push(f));
  ch.grant(10);
  ch.tick();
  t.is(frames.length, 0, 'nothing sent yet: nothing to probe');
  ch.send(batch(3), 50);
  ch.tick(); // the tick in which it sent
  t.is(frames.length, 1);
  ch.tick(); // a whole silent tick
  t.is(frames.length, 2);
  const probe = decodeFrame(frames[1]);
  t.deepEqual([probe.firstSeq, probe.messages.length, probe.clock], [3, 0, 50]);
  ch.tick();
  ch.tick();
  t.is(frames.length, 2, 'one probe per silence');
  t.is(ch.probesSent, 1);
});

test('RemoteChannel.tick: no AckRequest after the end of the stream, nor without credit', (t) => {
  const ended: Uint8Array[] = [];
  const end = new RemoteChannel({ app: 'app1', epoch: 0, sender: 1 }, (f) => ended.push(f));
  end.grant(10);
  end.send(batch(1), Infinity);
  end.tick();
  end.tick();
  t.is(ended.length, 1);
  const starved: Uint8Array[] = [];
  const noCredit = new RemoteChannel({ app: 'app1', epoch: 0, sender: 1 }, (f) => starved.push(f));
  noCredit.grant(1);
  noCredit.send(batch(1), 5);
  noCredit.tick();
  noCredit.tick();
  t.is(starved.length, 1, 'frames unprocessed, not lost: the credit re-announcement follows them');
  noCredit.grant(2);
  noCredit.tick();
  t.is(starved.length, 2, 'with credit again the probe goes');
});

test('CreditBatcher: many announcements in one turn become one message per sender, with the highest totals', async (t) => {
  const sent: [string, [number, number][]][] = [];
  const batcher = new CreditBatcher((key, payload) => sent.push([key, cborDecoder.decode(payload)]));
  batcher.announce('b|1', 10, 33);
  batcher.announce('b|1', 10, 35);
  batcher.announce('b|1', 10, 34);
  batcher.announce('b|1', 11, 40);
  batcher.announce('c|2', 10, 32);
  t.is(sent.length, 0, 'nothing before the end of the turn');
  await nextTurn();
  t.deepEqual(sent, [['b|1', [[10, 35], [11, 40]]], ['c|2', [[10, 32]]]]);
  batcher.announce('b|1', 10, 36);
  await nextTurn();
  t.deepEqual(sent.at(-1), ['b|1', [[10, 36]]]);
});

test('WireChannels on a FakeClock: the refresh tick sends the AckRequest after a silent tick', async (t) => {
  const broker = new MemoryBroker();
  const a = await broker.connect({ clientId: 'a' });
  const b = await broker.connect({ clientId: 'b' });
  await b.subscribe(topics.dataFilterFor('b'));
  const frames: ReturnType<typeof decodeFrame>[] = [];
  b.onMessage((_topic, payload) => frames.push(decodeFrame(payload)));
  const clock = new FakeClock();
  const stats: WireStats = { framesIn: 0, framesOut: 0, framesReusingValues: 0, framesRejected: 0, framesFenced: 0, duplicates: 0, gaps: 0, lateUndelivered: 0 };
  const wire = new WireChannels({ app: 'app1', epoch: 0, nodeId: 'a', transport: a, log: silent, stats, clock });
  const ch = wire.remoteChannel({ processor: 0, index: 0, node: 'a' }, { processor: 1, index: 0, node: 'b' });
  wire.start();
  t.is(clock.pending, 1 + EARLY_REANNOUNCE_MS.length, 'the refresh tick and the early re-announcements run on the injected clock');
  ch.grant(8);
  ch.send(batch(2), 70);
  const delivered = (n: number) => new Promise<void>((resolve) => {
    const off = b.onMessage(() => frames.length >= n && (off(), resolve()));
    if (frames.length >= n) (off(), resolve());
  });
  await delivered(1);
  clock.advance(CREDIT_REFRESH_MS);
  t.is(broker.stats.routed, 1, 'sent during that tick: no probe yet (publishing routes synchronously)');
  clock.advance(CREDIT_REFRESH_MS);
  await delivered(2);
  t.deepEqual([frames[1].firstSeq, frames[1].messages.length, frames[1].clock], [2, 0, 70]);
  t.is(stats.framesOut, 2);
  wire.stop();
  t.is(clock.pending, 0, 'stop() cancels the tick');
  await Promise.all([a.close(), b.close()]);
});
