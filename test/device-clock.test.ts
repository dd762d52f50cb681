import test from 'ava';
import { collectionSource, DeviceWatermark, memorySink, pipeline, type Message } from '../shared/src/api/index.js';
import { SourceClock } from '../shared/src/runtime/source-clock.js';
import { MemoryReplayLog } from '../shared/src/store/memory-replay-log.js';
import { referenceLate } from './helpers/device-clock-reference.js';
import { runToEnd, silent } from './helpers/runtime.js';
import { Router } from '../shared/src/runtime/router.js';
import { builtinConnectors } from '../shared/src/connectors/index.js';
import type { HostEvents } from '../shared/src/runtime/task-host.js';
import { SourceTaskRunner } from '../shared/src/runtime/source-task-runner.js';
import { cborEncoder } from '../shared/src/wire/cbor.js';
import { decodeControl } from '../shared/src/wire/control.js';

/** Seeded PRNG (mulberry32): the same records every run. */
function rng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

type Reading = { device: string; n: number };

/**
 * Three devices each in event-time order (random steps), randomly interleaved once each has been
 * seen (a device first seen after another has passed its start begins behind the clock: its
 * readings are late until it catches up, see DeviceWatermark).
 */
function interleaved(perDevice: number, seed: number): Message<Reading>[] {
  const r = rng(seed);
  const next = [1_000, 1_000, 1_000];
  const left = [perDevice, perDevice, perDevice];
  const out: Message<Reading>[] = [];
  for (let d = 0; d < 3; d++) {
    out.push({ ts: next[d], key: `dev-${d}`, value: { device: `dev-${d}`, n: 0 } });
    next[d] += 1 + Math.floor(r() * 20);
    left[d]--;
  }
  while (left.some((n) => n > 0)) {
    const d = Math.floor(r() * 3);
    if (left[d] === 0) continue;
    out.push({ ts: next[d], key: `dev-${d}`, value: { device: `dev-${d}`, n: perDevice - left[d] } });
    next[d] += 1 + Math.floor(r() * 20);
    left[d]--;
  }
  return out;
}

/**
 * Devices with different allowed delays (each out of order within its own delay), and dev-2
 * silent for a long stretch of event time, then coming back with a backlog and newer readings.
 */
function fleetWithOutage(seed: number): { records: Message<Reading>[]; delays: Record<string, number> } {
  const r = rng(seed);
  const delays: Record<string, number> = { 'dev-0': 0, 'dev-1': 30, 'dev-2': 10, 'dev-3': 80 };
  const devices = Object.keys(delays);
  const out: Message<Reading>[] = [];
  const count = new Map<string, number>();
  for (let tick = 0; tick < 400; tick++) {
    const base = 10_000 + tick * 10;
    for (const d of devices) {
      // dev-2 is silent between ticks 100 and 250, then its backlog arrives from tick 250 on.
      if (d === 'dev-2' && tick >= 100 && tick < 250) continue;
      if (d === 'dev-2' && tick === 250) {
        for (let b = 100; b < 250; b += 5) out.push({ ts: 10_000 + b * 10, key: 'dev-2', value: { device: 'dev-2', n: -b } });
      }
      const n = count.get(d) ?? 0;
      count.set(d, n + 1);
      const jitter = Math.floor(r() * (delays[d] + 1));
      out.push({ ts: base - jitter, key: d, value: { device: d, n } });
    }
  }
  return { records: out, delays };
}

const devicesOf = (records: readonly Message<Reading>[]) => records.map((m) => ({ ts: m.ts, device: m.value.device }));

test('three devices each in order, interleaved, maxDelayMs 0: no reading is late (one clock would make most late)', async (t) => {
  const records = interleaved(2000, 15);
  let maxSeen = -Infinity;
  const lateWithOneClock = records.filter((m) => {
    const late = m.ts < maxSeen;
    maxSeen = Math.max(maxSeen, m.ts);
    return late;
  }).length;
  t.true(lateWithOneClock > records.length / 3, `one clock: ${lateWithOneClock} late`);

  const out = memorySink<Reading>();
  const late = memorySink<Reading>('late');
  const p = pipeline('three-devices').late(late);
  p.source(collectionSource(records, { maxDelayMs: 0, perDevice: true })).sink(out);
  const { summary } = await runToEnd(p);
  t.is(late.messages.length, 0);
  t.is(out.messages.length, 6000);
  t.is(summary.processors[0].late, 0);
});

test('different delays, a device silent past the idle timeout and back: on time / late per record as the reference says', async (t) => {
  const { records, delays } = fleetWithOutage(4);
  const idleMs = 500;
  const expected = referenceLate(devicesOf(records), (d) => delays[d], idleMs);
  t.true(expected.some((l) => l), 'some of the backlog is late');

  const w = new DeviceWatermark(0, idleMs, delays);
  t.deepEqual(records.map((m) => !w.offer(m.value.device, m.ts)), expected);

  const out = memorySink<Reading>();
  const late = memorySink<Reading>('late');
  const p = pipeline('outage').idleTimeout(idleMs).late(late);
  p.source(collectionSource(records, { maxDelayMs: 0, perDevice: true, deviceDelayMs: delays })).sink(out);
  const { summary } = await runToEnd(p);
  t.deepEqual(late.messages.map((m) => m.value), records.filter((_, i) => expected[i]).map((m) => m.value));
  t.deepEqual(out.messages.map((m) => m.value), records.filter((_, i) => !expected[i]).map((m) => m.value));
  t.is(summary.processors[0].late, late.messages.length);
  // Without the idle timeout the silent device holds the clock: its whole backlog is on time.
  const noIdle = referenceLate(devicesOf(records), (d) => delays[d], 0);
  t.false(records.some((m, i) => noIdle[i] && m.value.n < 0));
  t.true(records.some((m, i) => expected[i] && m.value.n < 0), 'with it, some of the backlog is late');
});

test('a device that starts behind the clock: late until it catches up, holding the clock where it was meanwhile', (t) => {
  const w = new DeviceWatermark(0, 0);
  t.true(w.offer('a', 100));
  t.true(w.offer('a', 200));
  t.is(w.current(), 200);
  t.false(w.offer('b', 150), 'behind the clock: late');
  t.is(w.current(), 200, 'the clock never moves backwards');
  t.true(w.offer('a', 205));
  t.is(w.current(), 200, 'b (at 150) holds the clock where it was');
  t.false(w.offer('b', 199), 'still behind: late');
  t.true(w.offer('b', 210), 'caught up: on time');
  t.is(w.current(), 205);
  t.true(w.offer('a', 300));
  t.is(w.current(), 210, 'the clock follows b like any other device');
  t.deepEqual(w.laggards(1), [{ device: 'b', newestTs: 210, clock: 210 }]);
  // Behind the newest by more than the idle timeout, a new device does not hold the clock at all.
  const idle = new DeviceWatermark(0, 50);
  idle.offer('a', 1000);
  t.false(idle.offer('c', 900));
  t.true(idle.offer('a', 1010));
  t.is(idle.current(), 1010);
  t.is(idle.deviceCount, 1, 'the inactive device is forgotten');
});

test('recovery replay: the clock state of a checkpoint makes the replay decide exactly as the first run', async (t) => {
  const { records, delays } = fleetWithOutage(9);
  const idleMs = 500;
  const interval = 200;
  const batches: Message<Reading>[][] = [];
  for (let i = 0; i < records.length; i += 37) batches.push(records.slice(i, i + 37));
  const log = new MemoryReplayLog();
  const spec = { maxDelayMs: 0, perDevice: true, deviceDelayMs: delays };

  // First run: every batch logged, then judged; a checkpoint snapshot at each grid time the clock passes.
  const first = new SourceClock(spec, idleMs, interval);
  const decisions: boolean[] = [];
  const checkpoints = new Map<number, ReturnType<SourceClock['snapshotFor']>>();
  let lastCp = -Infinity;
  for (const b of batches) {
    await log.append('src', b, first.current());
    first.beforeBatch(b);
    for (const m of b) decisions.push(first.judge(m));
    const cpT = Math.floor(first.current() / interval) * interval;
    if (Number.isFinite(cpT) && cpT > lastCp) {
      checkpoints.set(cpT, structuredClone(first.snapshotFor(cpT)));
      lastCp = cpT;
    }
  }
  t.deepEqual(decisions.map((d) => !d), referenceLate(devicesOf(records), (d) => delays[d], idleMs));
  t.true(checkpoints.size > 10);

  // A replay from each checkpoint: restored state, records from the log's replay start.
  let checked = 0;
  let differsWithout = 0;
  for (const [cpT, state] of checkpoints) {
    t.truthy(state, `checkpoint ${cpT} carries the clock state`);
    const { seq } = await log.replayStart('src', cpT);
    const again = new SourceClock(spec, idleMs, interval);
    again.restore(state);
    const replayed = records.slice(seq).map((m) => again.judge(m));
    t.deepEqual(replayed, decisions.slice(seq), `replay from ${cpT} (seq ${seq})`);
    checked++;
    const fresh = new SourceClock(spec, idleMs, interval);
    if (records.slice(seq).some((m, i) => fresh.judge(m) !== decisions[seq + i])) differsWithout++;
  }
  t.is(checked, checkpoints.size);
  t.true(differsWithout > 0, 'without the restored state some replays would decide differently');
});

test('the devices holding the clock back are reported (lowest clock first) and pass the heartbeat schema', async (t) => {
  const { records, delays } = fleetWithOutage(2);
  const p = pipeline('laggards').idleTimeout(500);
  p.source(collectionSource(records, { perDevice: true, deviceDelayMs: delays })).sink(memorySink());
  const { runtime } = await runToEnd(p);
  const source = runtime.tasks().find((h): h is SourceTaskRunner => h instanceof SourceTaskRunner)!;
  const lag = source.laggards(10);
  // At the end: every device active; dev-3 (80 ms delay) holds the clock back most.
  t.deepEqual(lag.map((l) => l.device), ['dev-3', 'dev-1', 'dev-2', 'dev-0']);
  t.true(lag.every((l, i) => l.clock === l.newestTs - delays[l.device] && (i === 0 || l.clock >= lag[i - 1].clock)));
  const task = { processor: 0, index: 0, in: 1, out: 1, late: 0, rejected: 0, queued: 0, maxQueued: 0, inputClock: 1, clockLaggards: lag.map((l) => [l.device, l.newestTs, l.clock]) };
  const hb = { now: 1, apps: { a: { epoch: 1, state: 'running', tasks: [task], wire: {} } } };
  t.true(decodeControl('heartbeat', cborEncoder.encode(hb)).ok);
});

test('recovery through the source task: restored from a checkpoint, the replayed log is judged late / on time as the first run did', async (t) => {
  const { records, delays } = fleetWithOutage(5);
  const interval = 200;
  const log = new MemoryReplayLog();
  const opts = { perDevice: true, deviceDelayMs: delays } as const;
  const id = (m: Message<Reading>) => `${m.value.device}:${m.value.n}`;

  /** One run of the source task on the shared replay log; its late records and checkpoints. */
  async function run(input: Message<Reading>[], restore?: { t: number; state: Uint8Array | null }) {
    const p = pipeline('replay').idleTimeout(500);
    p.source(collectionSource(input, opts)).sink(memorySink());
    const spec = p.compile().processors[0];
    const late: string[] = [];
    const checkpoints: { t: number; state: Uint8Array | null }[] = [];
    const events: HostEvents = {
      lateDropped: (_h, m) => void late.push(id(m as Message<Reading>)),
      failed: (_h, err) => t.fail(String(err)),
      checkpointIntervalMs: interval,
      connectors: builtinConnectors,
      checkpointed: (_h, cpT, state) => void checkpoints.push({ t: cpT, state }),
    };
    const runner = new SourceTaskRunner(spec, 0, new Router(37), silent, events, {
      batchSize: 37, idleTimeoutMs: 500,
      replay: { log, name: 'src', quotaBytes: 0, policy: 'block' },
      replayFrom: restore ? restore.t : -Infinity,
    });
    if (restore) runner.restoreCheckpoint(restore.t, restore.state);
    await runner.start();
    await runner.finished;
    return { late, checkpoints };
  }

  const first = await run(records);
  const expected = referenceLate(devicesOf(records), (d) => delays[d], 500);
  t.deepEqual(first.late, records.filter((_, i) => expected[i]).map(id));
  t.true(first.checkpoints.length > 10);
  let differs = 0;
  for (const cp of first.checkpoints.filter((_, i) => i % 5 === 2)) {
    // The recovery: nothing new from the source, the log replayed from the checkpoint.
    const again = await run([], cp);
    const { seq } = await log.replayStart('src', cp.t);
    const lateBefore = records.slice(0, seq).filter((_, i) => expected[i]).length;
    t.deepEqual(again.late, first.late.slice(lateBefore), `replay from ${cp.t}`);
    // And without the checkpoint's clock state the same replay would have decided otherwise.
    const blind = await run([], { t: cp.t, state: null });
    if (blind.late.join() !== again.late.join()) differs++;
  }
  t.true(differs > 0);
});

test('laggards: the n lowest device clocks, ties by id, the same as sorting every device', (t) => {
  const random = rng(99);
  const delayOf = (device: string) => (Number(device.slice(1)) % 7) * 10;
  const w = new DeviceWatermark(0, 0, delayOf);
  const newest = new Map<string, number>();
  for (let i = 0; i < 20_000; i++) {
    const device = `d${Math.floor(random() * 500)}`;
    // timestamps on a 10 ms grid, so that many devices tie on their clock
    const ts = 1000 + 10 * Math.floor(random() * 2000);
    w.offer(device, ts);
    newest.set(device, Math.max(newest.get(device) ?? -Infinity, ts));
  }
  const all = [...newest].map(([device, ts]) => ({ device, newestTs: ts, clock: ts - delayOf(device) }))
    .sort((a, b) => a.clock - b.clock || (a.device < b.device ? -1 : 1));
  t.is(all.length, 500);
  t.true(all.some((d, i) => i > 0 && d.clock === all[i - 1].clock), 'the fleet has ties to order');
  for (const n of [0, 1, 10, 499, 500, 600]) t.deepEqual(w.laggards(n), all.slice(0, n), `n = ${n}`);
});
