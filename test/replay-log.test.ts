import test, { type ExecutionContext } from 'ava';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { createLogger, type Message } from '@tributary/shared';
import { AppReplayLog, LevelReplayLog, MemoryReplayLog, type ReplayLog } from '@tributary/shared/store';
import { tempDir } from './helpers/tmp.js';

type Factory = (t: ExecutionContext) => Promise<{ log: ReplayLog; reopen?: () => Promise<ReplayLog> }>;

const rec = (ts: number, value: unknown = ts): Message => ({ ts, value });
const batch = (...ts: number[]) => ts.map((x) => rec(x));

async function all(log: ReplayLog, source: string, from: number) {
  const out: { firstSeq: number; ts: number[] }[] = [];
  for await (const b of log.read(source, from)) out.push({ firstSeq: b.firstSeq, ts: b.records.map((r) => r.ts) });
  return out;
}

/** One suite, every implementation: what the replay log promises, whatever stores it. */
function conformance(name: string, factory: Factory): void {
  test(`${name}: appends get consecutive sequence numbers; reads return batches in order`, async (t) => {
    const { log } = await factory(t);
    t.is(await log.append('s', batch(1, 2, 3), 1), 0);
    t.is(await log.append('s', batch(5, 4), 4), 3);
    t.is(await log.append('s', [], 4), 5, 'an empty batch (a clock step) takes no numbers');
    t.deepEqual((await all(log, 's', 0)).filter((b) => b.ts.length > 0), [{ firstSeq: 0, ts: [1, 2, 3] }, { firstSeq: 3, ts: [5, 4] }]);
    // Empty batches (clock steps) are kept too: a replay must move the clock as the first run did.
    t.deepEqual((await all(log, 's', 4)).map((b) => b.firstSeq), [3, 5], 'a batch straddling fromSeq is included');
    t.deepEqual((await all(log, 's', 5)).filter((b) => b.ts.length > 0), []);
  });

  test(`${name}: sources are independent`, async (t) => {
    const { log } = await factory(t);
    await log.append('a', batch(1), 1);
    await log.append('b', batch(10, 11), 11);
    t.is(await log.append('a', batch(2), 2), 1);
    t.deepEqual((await all(log, 'b', 0)).map((b) => b.ts), [[10, 11]]);
  });

  test(`${name}: seqForTimestamp finds where a replay from clock T must start, despite disorder`, async (t) => {
    const { log } = await factory(t);
    await log.append('s', batch(100, 90), 90); // seq 0-1, newest seen 100
    await log.append('s', batch(95, 120), 115); // seq 2-3, newest 120
    await log.append('s', batch(130), 125); // seq 4, newest 130
    t.is(await log.seqForTimestamp('s', 50), 0);
    t.is(await log.seqForTimestamp('s', 100), 0, 'ts 100 first appears in the first batch');
    t.is(await log.seqForTimestamp('s', 101), 2);
    t.is(await log.seqForTimestamp('s', 125), 4);
    t.is(await log.seqForTimestamp('s', 1000), 5, 'nothing that new yet: the next sequence number');
  });

  test(`${name}: trim drops whole batches below a sequence number and reports them`, async (t) => {
    const { log } = await factory(t);
    await log.append('s', batch(1, 2), 2);
    await log.append('s', batch(3, 4), 4);
    await log.append('s', batch(5, 6), 6);
    t.is(await log.trim('s', 3), 2, 'the batch holding seq 2-3 is kept: seq 3 is still needed');
    t.deepEqual((await all(log, 's', 0)).map((b) => b.firstSeq), [2, 4]);
    const stats = await log.stats('s');
    t.deepEqual({ ...stats, bytes: stats.bytes > 0 }, { firstSeq: 2, nextSeq: 6, batches: 2, records: 4, bytes: true });
    t.is(await log.seqForTimestamp('s', 0), 2, 'trimmed batches are gone from the index too');
  });

  test(`${name}: values round-trip, keys included`, async (t) => {
    const { log } = await factory(t);
    const records: Message[] = [{ ts: 7, key: 'dev-1', value: { device: 'dev-1', v: 1.5, tags: ['a'] } }, { ts: 8, value: 'plain' }];
    await log.append('s', records, 8);
    const [b] = await all2(log);
    t.deepEqual(b.records, records);
    t.is(b.clock, 8);
  });
}

async function all2(log: ReplayLog) {
  const out = [];
  for await (const b of log.read('s', 0)) out.push(b);
  return out;
}

conformance('memory', async () => ({ log: new MemoryReplayLog() }));

const level: Factory = async (t) => {
  const dir = await tempDir('trib-replay-');
  t.teardown(dir.cleanup);
  const path = join(dir.path, 'log');
  let log: ReplayLog = new LevelReplayLog(path);
  await log.open();
  t.teardown(() => log.close());
  return {
    log,
    reopen: async () => {
      await log.close();
      log = new LevelReplayLog(path);
      await log.open();
      return log;
    },
  };
};
conformance('leveldb', level);

test('leveldb: the log and its sequence numbers survive a restart', async (t) => {
  const { log, reopen } = await level(t);
  await log.append('s', batch(1, 2, 3), 3);
  await log.append('s', batch(4), 4);
  const again = await reopen!();
  t.is(await again.append('s', batch(5), 5), 4, 'numbering continues where it stopped');
  t.deepEqual((await all(again, 's', 0)).map((b) => b.ts), [[1, 2, 3], [4], [5]]);
  t.is(await again.seqForTimestamp('s', 4), 3);
});

test('leveldb: stats kept in memory across appends and trims equal a fresh scan after a restart; position and replay start survive it', async (t) => {
  const { log, reopen } = await level(t);
  await log.append('s', batch(10, 20), 20, { i: 2 });
  await log.append('s', batch(30), 30, { i: 3 });
  await log.append('s', batch(25, 40), 40, { i: 5 });
  await log.trim('s', 2);
  await log.append('s', batch(50), 50, { i: 6 });
  const live = await log.stats('s');
  t.deepEqual({ ...live, bytes: live.bytes > 0 }, { firstSeq: 2, nextSeq: 6, batches: 3, records: 4, bytes: true });
  const again = await reopen!();
  t.deepEqual(await again.stats('s'), live, 'the counters kept in memory match a scan of the disk');
  t.deepEqual(await again.position('s'), { i: 6 });
  t.deepEqual(await again.replayStart('s', 35), { seq: 3, maxTsBefore: 30 }, 'the watermark before the replay start is known');
  t.deepEqual(await again.replayStart('s', 25), { seq: 2, maxTsBefore: 20 }, 'from the trimmed batches when the one before is gone');
});

test('leveldb: trimmed behind the checkpoints as a long run goes on, its disk use stays flat', async (t) => {
  // The same run into two logs: one trimmed after each batch (a checkpoint completing), one never
  // trimmed (the control). When LevelDB compacts decides how much of the trimmed log's garbage is
  // still on disk at a given moment (its write-ahead log and level-0 files come and go: peaks of
  // ~14 MB were seen at any point of a run), so the trimmed log is compared with the control, over
  // a run long enough for the control to outgrow those peaks several times.
  const open = async (): Promise<{ log: LevelReplayLog; onDisk: () => Promise<number> }> => {
    const dir = await tempDir();
    t.teardown(dir.cleanup);
    const log = new LevelReplayLog(dir.path);
    await log.open();
    t.teardown(() => log.close());
    const onDisk = async (): Promise<number> => {
      let bytes = 0;
      // LevelDB deletes files as it compacts: one may vanish between readdir and stat.
      for (const f of await readdir(dir.path)) bytes += (await stat(join(dir.path, f)).catch(() => ({ size: 0 }))).size;
      return bytes;
    };
    return { log, onDisk };
  };
  const trimmed = await open();
  const control = await open();
  // 3 million sensor readings in batches of 1,000; after each batch everything but the last 20,000
  // records is trimmed; the trimmed log's disk use sampled every 250,000 records.
  let ts = 0;
  const samples: number[] = [];
  for (let b = 1; b <= 3000; b++) {
    const records: Message[] = [];
    for (let i = 0; i < 1000; i++) {
      ts += 10;
      records.push({ ts, value: { ts, device: 'dev-1', sensor: 'temperature', value: ((ts * 7919) % 4000) / 100 } });
    }
    const first = await trimmed.log.append('s', records, ts, { ts });
    await control.log.append('s', records, ts, { ts });
    await trimmed.log.trim('s', first + records.length - 20_000);
    if (b % 250 === 0) samples.push(await trimmed.onDisk());
  }
  const untrimmed = await control.onDisk();
  t.log(`trimmed log's disk use every 250k records (KB): ${samples.map((n) => Math.round(n / 1024)).join(' ')}; untrimmed at the end: ${Math.round(untrimmed / 1024)} KB`);
  t.like(await trimmed.log.stats('s'), { records: 20_000 });
  t.like(await control.log.stats('s'), { records: 3_000_000 });
  // Untrimmed, the log grows with the run (~16 MB per million records); trimmed, the second half of
  // the run never uses half of what the control holds at its end.
  const secondHalf = Math.max(...samples.slice(samples.length / 2));
  t.true(secondHalf <= untrimmed / 2, `flat: at most ${secondHalf} bytes in the second half, against ${untrimmed} untrimmed`);
});

test('a new submission on the same node starts with an empty replay log, never the earlier one\'s', async (t) => {
  // The Level opens itself when constructed; the earlier submission's log must be closed before
  // it is discarded (else: rm fails with ENOTEMPTY, or the new run replays the old records from
  // a deleted directory). A race, so several rounds: before the fix most of them failed.
  const log = createLogger({ level: 'silent' });
  for (let round = 0; round < 10; round++) {
    const dir = await tempDir();
    t.teardown(dir.cleanup);
    const first = new AppReplayLog(dir.path, 1, log);
    await first.open();
    for (let b = 0; b < 20; b++) await first.log.append('s', batch(...Array.from({ length: 50 }, (_, i) => b * 50 + i)), b * 50 + 49, { b });
    await first.close();
    const second = new AppReplayLog(dir.path, 2, log);
    await second.open();
    t.like(await second.log.stats('s'), { records: 0, nextSeq: 0 }, `round ${round}`);
    t.is(await second.log.position('s'), undefined);
    t.true((await readdir(join(dir.path, 'log'))).length > 0, 'the new log is on disk');
    await second.close();
  }
});

test('leveldb: replay starts and trims answered from memory agree with the memory log, live and after a restart, through empty batches, late records and trims', async (t) => {
  const { log, reopen } = await level(t);
  const mem = new MemoryReplayLog();
  // A deterministic walk: batches of 0-4 records, timestamps that sometimes go back, a trim every
  // few batches below a replay start, as checkpoints do.
  let ts = 100;
  let x = 7;
  const next = () => (x = (x * 1103515245 + 12345) % 2147483648) % 1000;
  const queries = (top: number) => Array.from({ length: top + 3 }, (_, i) => 95 + i);
  const compare = async (l: ReplayLog, label: string) => {
    for (const q of queries(ts)) t.deepEqual(await l.replayStart('s', q), await mem.replayStart('s', q), `${label}: replayStart(${q})`);
    // On disk an empty batch (a clock step) shares its key with the next batch: not counted apart after a restart.
    const { records, firstSeq, nextSeq } = await mem.stats('s');
    t.like(await l.stats('s'), { records, firstSeq, nextSeq }, `${label}: stats`);
    const nonEmpty = async (from: ReplayLog) => (await all(from, 's', 0)).filter((b) => b.ts.length > 0);
    t.deepEqual(await nonEmpty(l), await nonEmpty(mem), `${label}: every record still there`);
  };
  let checked = 0;
  let current: ReplayLog = log;
  for (let round = 0; round < 60; round++) {
    const n = next() % 5;
    const records = Array.from({ length: n }, () => rec(next() % 4 === 0 ? ts - 3 : (ts += 1 + (next() % 3))));
    t.is(await current.append('s', records, ts), await mem.append('s', records, ts));
    if (round % 7 === 6) {
      const { seq } = await mem.replayStart('s', ts - 6);
      t.is(await current.trim('s', seq), await mem.trim('s', seq), 'the same records trimmed');
    }
    if (round % 10 === 9) {
      await compare(current, `round ${round}`);
      current = await reopen!();
      await compare(current, `round ${round}, reopened`);
      checked++;
    }
  }
  t.is(checked, 6);
});

test('leveldb: trimming up to a batch that follows an empty one (a clock step at the same sequence number) keeps that batch', async (t) => {
  const { log, reopen } = await level(t);
  await log.append('s', batch(1, 2), 2);
  await log.append('s', [], 3);
  await log.append('s', batch(4, 5), 5);
  const { seq } = await log.replayStart('s', 4);
  t.is(seq, 2);
  t.is(await log.trim('s', seq), 2, 'the first batch goes');
  t.deepEqual((await all(log, 's', 0)).filter((b) => b.ts.length > 0), [{ firstSeq: 2, ts: [4, 5] }]);
  const again = await reopen!();
  t.deepEqual((await all(again, 's', 0)).filter((b) => b.ts.length > 0), [{ firstSeq: 2, ts: [4, 5] }], 'and it is still on disk');
});
