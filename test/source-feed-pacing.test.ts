/**
 * SourceFeed pacing (shared/src/runtime/source-feed.ts): a source that can resume from a position
 * waits for room in memory while the emitter takes batches, so nothing is read back from the log;
 * when the emitter stops taking batches the reader goes on into the log alone (store-and-forward),
 * and a source without a position is never held back. A MemoryReplayLog that counts its reads.
 */
import test from 'ava';
import type { Message } from '../shared/src/api/message.js';
import { SourceFeed, PACE_WAIT_MS, FIRST_READ_RECORDS, TARGET_BATCH_BYTES } from '../shared/src/runtime/source-feed.js';
import { MemoryReplayLog } from '../shared/src/store/memory-replay-log.js';
import { FakeClock } from './helpers/fake-clock.js';

class CountingLog extends MemoryReplayLog {
  reads = 0;
  /** Batches handed out by reads. */
  batchesRead = 0;
  /** Each batch read back takes this long on `clock` (a slow disk), when set. */
  slow: { clock: FakeClock; ms: number } | null = null;
  override read(source: string, fromSeq: number) {
    this.reads++;
    const inner = super.read(source, fromSeq);
    const self = this;
    return (async function* () {
      for await (const b of inner) {
        self.batchesRead++;
        if (self.slow) self.slow.clock.advance(self.slow.ms);
        yield b;
      }
    })();
  }
}

const BATCHES = 200;
const batch = (b: number): Message[] => Array.from({ length: 10 }, (_, i) => ({ ts: b * 10 + i, value: { n: b * 10 + i } }));

async function feedOf(pace: boolean, clock = new FakeClock(0)) {
  const log = new CountingLog();
  // 64 batches of 10 records in memory.
  const feed = new SourceFeed({ log, name: 'src', quotaBytes: 0, policy: 'block' }, clock, pace, 640);
  await feed.open();
  return { log, feed, clock };
}

/** The emitter: takes every batch in order, yielding to the event loop after each (slower than the reader). */
async function emitAll(feed: SourceFeed): Promise<number[]> {
  const seen: number[] = [];
  for (let seq = 0; ; ) {
    const b = await feed.next(seq);
    if (b === null) return seen;
    for (const m of b.records) seen.push((m.value as { n: number }).n);
    seq = b.firstSeq + b.records.length;
    await new Promise((r) => setImmediate(r));
  }
}

async function readAll(feed: SourceFeed): Promise<void> {
  for (let b = 0; b < BATCHES; b++) await feed.push(batch(b), b * 10, { at: b });
  feed.end();
}

const everything = Array.from({ length: BATCHES * 10 }, (_, i) => i);

/** Lets the reader and emitter run (no timers: the FakeClock moves only when told) until `done()`. */
async function settle(done: () => boolean | Promise<boolean>): Promise<void> {
  while (!(await done())) await new Promise((r) => setImmediate(r));
}

test('a paced reader ahead of a working emitter waits for room: every batch is emitted from memory, none read back from the log', async (t) => {
  const { log, feed } = await feedOf(true);
  const [seen] = await Promise.all([emitAll(feed), readAll(feed)]);
  t.deepEqual(seen, everything);
  t.is(log.reads, 0);
  t.is((await log.stats('src')).records, BATCHES * 10, 'every batch was logged first');
});

test('unpaced (a source without a position), the same reader runs ahead and the emitter reads the rest back from the log', async (t) => {
  const { log, feed } = await feedOf(false);
  const [seen] = await Promise.all([emitAll(feed), readAll(feed)]);
  t.deepEqual(seen, everything);
  t.true(log.reads > 0);
});

test('a paced reader whose emitter takes nothing goes on into the log alone after the wait, and the backlog is emitted in order later', async (t) => {
  const { log, feed, clock } = await feedOf(true);
  const reading = readAll(feed);
  // 64 batches fit in memory; the 65th waits for room until the clock passes PACE_WAIT_MS.
  let done = false;
  void reading.then(() => (done = true));
  await settle(async () => done || (await log.stats('src')).records >= 64 * 10);
  t.false(done, 'the reader waits for room');
  clock.advance(PACE_WAIT_MS);
  await reading;
  t.is((await log.stats('src')).records, BATCHES * 10, 'the emitter stalled: the reader logged everything without waiting again');
  t.deepEqual(await emitAll(feed), everything);
  t.true(log.reads > 0, 'the backlog beyond memory came from the log');
});

test('after a stall, batches the emitter reads back from the log count as progress: the reader is paced again instead of running ahead for good', async (t) => {
  const { log, feed, clock } = await feedOf(true);
  const total = 400;
  let pushed = 0;
  let pushLimit = 100;
  let more: (() => void) | null = null;
  const reading = (async () => {
    while (pushed < total) {
      while (pushed >= pushLimit) await new Promise<void>((r) => (more = r));
      await feed.push(batch(pushed), pushed * 10, { at: pushed });
      pushed++;
    }
    feed.end();
  })();
  // 64 batches in memory, the 65th waits; the emitter takes nothing for PACE_WAIT_MS: stall.
  await settle(() => pushed === 64);
  clock.advance(PACE_WAIT_MS);
  await settle(() => pushed === 100);
  // Batches 64-99 are in the log only. From now on each batch read back takes 10 ms.
  log.slow = { clock, ms: 10 };
  pushLimit = total;
  (more as (() => void) | null)?.();
  const seen = await emitAll(feed);
  await reading;
  t.deepEqual(seen, Array.from({ length: total * 10 }, (_, i) => i));
  // Read back: what was logged during the stall (36 batches), and not everything after it.
  t.true(log.batchesRead <= 40, `${log.batchesRead} batches read back from the log`);
});

test('readSize: the first reads take FIRST_READ_RECORDS; then as many records as make TARGET_BATCH_BYTES at the size seen, within [1, max]', async (t) => {
  const { feed } = await feedOf(false);
  t.is(feed.readSize(4096), FIRST_READ_RECORDS, 'nothing encoded yet');
  t.is(feed.readSize(100), 100, 'never more than max');
  // Small records (a number each: a few bytes encoded): the read grows to max.
  await feed.push(Array.from({ length: 2048 }, (_, i) => ({ ts: i, value: i })), 0, null);
  t.is(feed.readSize(4096), 4096);
  // Records of ~4 KB: a batch of 2,048 replaces the estimate, reads shrink to ~TARGET_BATCH_BYTES / 4 KB.
  const big = 'x'.repeat(4 * 1024);
  await feed.push(Array.from({ length: 2048 }, (_, i) => ({ ts: 4096 + i, value: big })), 0, null);
  const n = feed.readSize(4096);
  t.true(n >= 60 && n <= 64, `${n} records of 4 KB per read`);
  // A single small record moves the estimate little.
  await feed.push([{ ts: 10_000, value: 1 }], 0, null);
  t.true(Math.abs(feed.readSize(4096) - n) <= 1);
  // Without a replay log nothing is encoded here: always FIRST_READ_RECORDS.
  const plain = new SourceFeed(null);
  await plain.push(Array.from({ length: 10 }, (_, i) => ({ ts: i, value: i })), 0, null);
  t.is(plain.readSize(4096), FIRST_READ_RECORDS);
  t.is(TARGET_BATCH_BYTES, 256 * 1024);
});

test('memory holds records, not batches: a paced reader of big batches waits once the records in memory reach the bound', async (t) => {
  const log = new CountingLog();
  const feed = new SourceFeed({ log, name: 'src', quotaBytes: 0, policy: 'block' }, new FakeClock(0), true, 1000);
  let pushed = 0;
  const reading = (async () => {
    for (let b = 0; b < 5; b++) {
      await feed.push(Array.from({ length: 400 }, (_, i) => ({ ts: b * 400 + i, value: i })), b * 400, { at: b });
      pushed++;
    }
    feed.end();
  })();
  // 400 + 400 < 1000, + 400 = 1,200: the third batch is kept, the fourth waits for room.
  await settle(() => pushed === 3);
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
  t.is(pushed, 3, 'the reader waits with 1,200 records in memory');
  const first = await feed.next(0);
  t.is(first?.records.length, 400);
  await settle(() => pushed === 4);
  let seq = 400;
  for (;;) {
    const b = await feed.next(seq);
    if (b === null) break;
    seq = b.firstSeq + b.records.length;
  }
  await reading;
  t.is(seq, 2000);
  t.is(log.reads, 0, 'everything from memory');
});
