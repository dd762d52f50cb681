/**
 * The receive protocol as a pure unit (ReceiveChannel per inbound edge, FrameReceiver per app on
 * a node): no broker, no timers. See docs/exactly-once.md (failure detection).
 */
import test from 'ava';
import { encodeFrame, FrameReceiver, ReceiveChannel, type Message } from '@tributary/shared';

const msgs = (n: number, from = 0): Message[] => Array.from({ length: n }, (_, i) => ({ ts: from + i, value: i }));

test('frames in sequence are delivered and move the expected sequence number on', (t) => {
  const ch = new ReceiveChannel(4);
  t.is(ch.accept(0, 3), 'deliver');
  t.is(ch.expectedSeq, 3);
  t.is(ch.accept(3, 2), 'deliver');
  t.is(ch.expectedSeq, 5);
  t.false(ch.broken);
});

test('a redelivered frame is a duplicate and changes nothing', (t) => {
  const ch = new ReceiveChannel();
  t.is(ch.accept(0, 3), 'deliver');
  t.is(ch.accept(3, 3), 'deliver');
  t.is(ch.accept(0, 3), 'duplicate');
  t.is(ch.accept(3, 3), 'duplicate');
  t.is(ch.expectedSeq, 6);
  t.is(ch.accept(6, 1), 'deliver');
});

test('a stale empty frame (clock step or AckRequest redelivered late) is a duplicate, not a step back', (t) => {
  const ch = new ReceiveChannel();
  t.is(ch.accept(0, 2), 'deliver');
  t.is(ch.accept(2, 0), 'deliver', 'an empty frame at the expected number is a clock step');
  t.is(ch.accept(2, 3), 'deliver');
  t.is(ch.accept(2, 0), 'duplicate');
  t.is(ch.expectedSeq, 5);
  t.is(ch.accept(5, 1), 'deliver', 'no false gap after the stale frame');
});

test('a gap freezes the channel: nothing more is delivered, duplicates are still recognised', (t) => {
  const ch = new ReceiveChannel();
  t.is(ch.accept(0, 2), 'deliver');
  t.is(ch.accept(4, 2), 'gap');
  t.true(ch.broken);
  t.is(ch.expectedSeq, 2, 'the expected number stays where the loss began');
  t.is(ch.accept(2, 2), 'frozen', 'even the missing frame, arriving late, is not taken');
  t.is(ch.accept(6, 1), 'frozen');
  t.is(ch.accept(0, 2), 'duplicate');
});

test('the empty AckRequest frame after a silent tick reveals a lost last frame', (t) => {
  const ch = new ReceiveChannel();
  t.is(ch.accept(0, 5), 'deliver');
  // Frame [5, 8) was lost and the sender fell silent; its AckRequest carries its next number, 8.
  t.is(ch.accept(8, 0), 'gap');
  t.true(ch.broken);
  // Without a loss the same probe is just a clock step.
  const ok = new ReceiveChannel();
  t.is(ok.accept(0, 5), 'deliver');
  t.is(ok.accept(5, 0), 'deliver');
  t.false(ok.broken);
});

test('credits: the total announced is frames processed plus the window, and only grows', (t) => {
  const ch = new ReceiveChannel(3);
  t.is(ch.creditTotal, 3, 'before any frame the sender may send a whole window');
  ch.accept(0, 10);
  ch.accept(10, 10);
  t.is(ch.creditTotal, 3, 'delivered is not processed: no credit back yet');
  t.is(ch.released(), 4);
  t.is(ch.released(), 5);
  t.is(ch.creditTotal, 5);
});

test('credits: announced every half window of frames processed; the refresh tick tells the exact total', (t) => {
  const ch = new ReceiveChannel(32);
  for (let seq = 0; seq < 40; seq++) t.is(ch.accept(seq, 1), 'deliver');
  const announced = Array.from({ length: 40 }, () => ch.released());
  t.deepEqual(announced.map((a, i) => (a === null ? null : i + 1)).filter((x) => x !== null), [16, 32]);
  t.is(announced[15], 16 + 32);
  t.is(announced[31], 32 + 32);
  t.false(ch.refreshDue(), 'the tick that saw the frames arrive');
  t.true(ch.refreshDue(), 'a quiet tick follows');
  t.is(ch.creditTotal, 40 + 32, 'what the tick re-announces');
});

test('credits: a sender that sends whenever it has credit never stalls, whatever the window', (t) => {
  for (let window = 1; window <= 40; window++) {
    const ch = new ReceiveChannel(window);
    let granted = ch.creditTotal;
    let sent = 0;
    const inFlight: number[] = [];
    // 10 windows' worth of frames; the receiver processes one frame per step, in order.
    for (let step = 0; step < 10 * window + 10; step++) {
      while (sent < granted) inFlight.push(sent++);
      const seq = inFlight.shift();
      if (seq === undefined) return t.fail(`window ${window}: the sender stalled after ${sent} frames`);
      ch.accept(seq, 1);
      const total = ch.released();
      if (total !== null) granted = Math.max(granted, total);
      if (inFlight.length === 0 && sent === granted) return t.fail(`window ${window}: no credit left and nothing in flight`);
    }
  }
  t.pass();
});

test('credits: a refresh is due only on ticks without a delivered frame', (t) => {
  const ch = new ReceiveChannel();
  t.true(ch.refreshDue(), 'quiet from the start: re-announce (the sender may have missed it)');
  ch.accept(0, 1);
  t.false(ch.refreshDue(), 'busy: the credits flowing back are announcement enough');
  t.true(ch.refreshDue());
  ch.accept(5, 1); // a gap is not activity
  t.true(ch.refreshDue());
});

const frame = (o: { app?: string; epoch?: number; sender?: number; firstSeq: number; n?: number; clock?: number }) =>
  encodeFrame({ app: o.app ?? 'app1', epoch: o.epoch ?? 2, sender: o.sender ?? 7, firstSeq: o.firstSeq, clock: o.clock ?? 100, messages: msgs(o.n ?? 1, o.firstSeq) });

test('FrameReceiver: delivers to the channel of (receiver, sender) with the frame and its target', (t) => {
  const rx = new FrameReceiver<string>('app1', 2);
  rx.add(3, 7, 'task 3 from 7');
  rx.add(3, 8, 'task 3 from 8');
  const r = rx.receive(3, frame({ sender: 8, firstSeq: 0, n: 2, clock: 42 }));
  t.is(r.kind, 'deliver');
  if (r.kind !== 'deliver') return;
  t.is(r.target, 'task 3 from 8');
  t.is(r.frame.clock, 42);
  t.deepEqual(r.frame.messages.map((m) => m.ts), [0, 1]);
  t.is(rx.get(3, 8)?.expectedSeq, 2);
  t.is(rx.get(3, 7)?.expectedSeq, 0, 'channels are independent');
  t.is(rx.receive(3, frame({ sender: 8, firstSeq: 0, n: 2 })).kind, 'duplicate');
  t.is(rx.receive(3, frame({ sender: 8, firstSeq: 5 })).kind, 'gap');
  t.is(rx.receive(3, frame({ sender: 7, firstSeq: 0 })).kind, 'deliver', 'a gap on one channel leaves the others alone');
});

test('FrameReceiver: frames of another epoch are fenced before any sequence check', (t) => {
  const rx = new FrameReceiver<null>('app1', 2);
  rx.add(3, 7, null);
  t.is(rx.receive(3, frame({ epoch: 1, firstSeq: 9 })).kind, 'fenced', 'a zombie of epoch 1');
  t.is(rx.receive(3, frame({ epoch: 3, firstSeq: 0 })).kind, 'fenced');
  t.is(rx.get(3, 7)?.expectedSeq, 0);
  t.false(rx.get(3, 7)?.broken);
});

test('FrameReceiver: undecodable frames, other apps and unknown channels are rejected with a reason', (t) => {
  const rx = new FrameReceiver<null>('app1', 2);
  rx.add(3, 7, null);
  const bad = rx.receive(3, new Uint8Array([1, 2, 3]));
  t.is(bad.kind, 'reject');
  const other = rx.receive(3, frame({ app: 'app2', firstSeq: 0 }));
  t.true(other.kind === 'reject' && other.reason.includes('app2'));
  const unknown = rx.receive(4, frame({ firstSeq: 0 }));
  t.true(unknown.kind === 'reject' && unknown.reason.includes('no channel from task 7 to task 4'));
});

test('FrameReceiver: a frame published by a node that does not host its sender task is rejected before any sequence check', (t) => {
  const rx = new FrameReceiver<null>('app1', 2);
  rx.add(3, 7, null, undefined, 'dev-1');
  const forged = rx.receive(3, frame({ firstSeq: 0, n: 5 }), 'evil');
  t.true(forged.kind === 'reject' && forged.reason.includes('published by node evil') && forged.reason.includes('runs on dev-1'));
  t.is(rx.get(3, 7)?.expectedSeq, 0, 'the forged frame moved nothing');
  t.is(rx.receive(3, frame({ firstSeq: 0, n: 5 }), 'dev-1').kind, 'deliver', 'the real sender is unaffected');
});
