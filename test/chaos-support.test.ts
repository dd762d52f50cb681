import test from 'ava';
import { simulatedSensors, type SensorReading, type SimulatedSensorsOptions, type Source } from '@tributary/shared';
import { compareResults, isClean } from '../chaos/compare.js';
import { planFaults } from '../chaos/faults.js';
import { ProgressTracker, type AppJson } from '../chaos/progress.js';
import { plantKey, type PlantWindow } from '../chaos/reference.js';

const ctx = (resumeFrom?: unknown) => ({ taskIndex: 0, parallelism: 1, log: undefined as never, nodeId: 'dev-7', nodeLabels: {}, reject: () => {}, resumeFrom });

async function readAll(source: Source<SensorReading>, max = 7): Promise<SensorReading[]> {
  const out: SensorReading[] = [];
  for (let b = await source.read(max); b; b = await source.read(max)) out.push(...b.map((m) => m.value));
  return out;
}

for (const model of ['sine', 'random-walk'] as const) {
  test(`simulatedSensors (${model}) resumed from position() continues exactly like an uninterrupted run`, async (t) => {
    const options: SimulatedSensorsOptions = { sensors: ['temperature', 'vibration'], intervalMs: 10, count: 300, startTs: 1_700_000_000_000, seed: 5, spikes: 0.2, model };
    const whole = simulatedSensors(options).create();
    await whole.open(ctx());
    const expected = await readAll(whole);
    t.is(expected.length, 600);
    t.is(whole.position!(), 300);

    // Interrupted after some reads: a new source continues from where the first one stood.
    const first = simulatedSensors(options).create();
    await first.open(ctx());
    const before = [...(await first.read(50))!, ...(await first.read(31))!].map((m) => m.value);
    const at = first.position!() as number;
    t.is(at, before.length / 2, 'position() is the index of the next reading per sensor');
    const resumed = simulatedSensors(options).create();
    await resumed.open(ctx(at));
    t.deepEqual([...before, ...(await readAll(resumed, 13))], expected);

    // Resuming at the end or past it: nothing more.
    const done = simulatedSensors(options).create();
    await done.open(ctx(300));
    t.is(await done.read(10), null);
    // Not a number (another source's position, or none): from the start.
    const fresh = simulatedSensors(options).create();
    await fresh.open(ctx('elsewhere'));
    t.deepEqual(await readAll(fresh), expected);
  });
}

test('paced simulatedSensors follows `speed` event-time ms per wall-clock ms, also after a resume', async (t) => {
  const options: SimulatedSensorsOptions = { intervalMs: 100, count: 40, startTs: 0, paced: true, speed: 20 };
  const t0 = Date.now();
  const s = simulatedSensors(options).create();
  await s.open(ctx());
  const all = await readAll(s, 1000);
  const took = Date.now() - t0;
  t.is(all.length, 40);
  // 40 readings 100 ms apart at speed 20: the last is due 39 * 5 = 195 ms after the start.
  t.true(took >= 190, `took ${took} ms`);
  t.true(took < 2000, `took ${took} ms`);

  const t1 = Date.now();
  const r = simulatedSensors(options).create();
  await r.open(ctx(30));
  const first = await r.read(1000);
  t.true(Date.now() - t1 < 50, 'the reading resumed at is due at once');
  t.is(first![0].value.ts, 3000);
  const rest = [...first!, ...((await readAll(r, 1000)).map((v) => ({ value: v })))];
  t.is(rest.length, 10);
  t.true(Date.now() - t1 >= 40, 'and the readings after it are paced');
  t.throws(() => simulatedSensors({ speed: 0 }).create(), { message: /speed/ });
});

test('the kill schedule is a pure function of the seed', (t) => {
  const o = { seed: 7, kills: 12, kinds: ['worker', 'agent', 'master', 'broker'] as const, workers: ['w-1', 'w-2'], agents: ['a', 'b', 'c'] };
  const a = planFaults(o);
  t.deepEqual(planFaults(o), a);
  t.notDeepEqual(planFaults({ ...o, seed: 8 }), a);
  for (const f of a) {
    t.true(f.gapMs >= 1000 && f.gapMs <= 3000);
    t.true(f.downMs >= 500 && f.downMs <= 3000);
    t.true(f.kind === 'worker' ? o.workers.includes(f.target) : f.kind === 'agent' ? o.agents.includes(f.target) : f.target === f.kind);
  }
  t.deepEqual(new Set(planFaults({ ...o, kinds: ['agent'] }).map((f) => f.kind)), new Set(['agent']));
  t.throws(() => planFaults({ ...o, kinds: ['disk' as never] }));
});

test('the comparison counts lost, duplicated, wrong, unexpected and malformed results', (t) => {
  const w = (device: string, windowStart: number, count: number, avg = 1): PlantWindow => ({ device, sensor: 's', windowStart, windowEnd: windowStart + 10, count, min: 0, max: 2, avg });
  const reference = new Map([w('a', 0, 3), w('a', 10, 4), w('b', 0, 5), w('b', 10, 6)].map((x) => [plantKey(x), x]));
  const line = (x: PlantWindow) => JSON.stringify(x);
  const clean = compareResults(reference, [...reference.values()].reverse().map(line), 0);
  t.true(isClean(clean));
  t.is(clean.compared, 4);

  const c = compareResults(reference, [
    line(w('a', 0, 3)), line(w('a', 0, 3)),     // duplicated
    line(w('a', 10, 4, 1 + 1e-12)),              // same (float noise)
    line(w('b', 0, 99)),                         // wrong
    line(w('c', 0, 1)),                          // unexpected
    '{"device":"b","sens',                       // torn line
  ], 2);                                          // (b@10 lost)
  t.like(c, { lost: 1, duplicated: 1, extraLines: 1, wrong: 1, unexpected: 1, malformed: 1, late: 2, distinct: 4, outputLines: 6 });
  t.false(isClean(c));
});

test('progress: all data tasks must count more input twice, a heartbeat apart, after the last disturbance', (t) => {
  const view = (over: { epoch?: number; ins?: number[]; online?: boolean; state?: string; appState?: string } = {}): AppJson => ({
    id: 'x', state: over.appState ?? 'running', epoch: over.epoch ?? 1, pending: [],
    plan: { processors: [{ id: 0, source: 'src' }, { id: 1, source: null }, { id: 2, source: null }], edges: [{ from: 0, to: 1, kind: 'data' }, { from: 0, to: 2, kind: 'late' }, { from: 1, to: 2, kind: 'late' }] },
    nodes: { a: { state: over.state ?? 'running', online: over.online ?? true }, w: { state: 'running', online: true } },
    tasks: [0, 1, 2].map((p, i) => ({ processor: p, index: 0, node: p === 0 ? 'a' : 'w', metrics: { in: over.ins?.[i] ?? 0 } })),
  });
  const p = new ProgressTracker(500);
  let now = 0;
  const at = (ms: number, v: AppJson | undefined) => p.observe(v, (now = ms)).status;
  t.is(at(0, view({ ins: [10, 5, 0] })), 'waiting');
  t.is(at(100, view({ ins: [11, 6, 0] })), 'waiting', 'one increase may be a burst of old heartbeats');
  t.is(at(200, view({ ins: [12, 7, 0] })), 'waiting', 'and so may a second one right after it');
  t.is(at(1100, view({ ins: [13, 7, 0] })), 'waiting', 'the window task has not moved again yet');
  t.is(at(1200, view({ ins: [13, 8, 0] })), 'processing', 'the late-data sink need not move');
  t.is(at(1300, undefined), 'waiting', 'master down: a disturbance');
  t.is(at(1400, view({ ins: [14, 9, 0] })), 'waiting');
  t.is(at(2400, view({ ins: [15, 10, 0] })), 'waiting', 'increases before the disturbance do not count');
  t.is(at(3400, view({ ins: [16, 11, 0], online: false })), 'waiting');
  t.is(at(3500, view({ ins: [17, 12, 0] })), 'waiting');
  t.is(at(4500, view({ ins: [18, 13, 0] })), 'waiting');
  t.is(at(4600, view({ epoch: 2, ins: [1, 1, 0] })), 'waiting', 'a new epoch starts over');
  t.is(at(5600, view({ epoch: 2, ins: [2, 2, 0] })), 'waiting');
  t.is(at(6600, view({ epoch: 2, ins: [3, 3, 0] })), 'processing');
  t.is(at(6700, view({ epoch: 2, ins: [3, 3, 0], state: 'finished' })), 'processing', 'a node whose part finished has nothing to process');
  p.reset();
  t.is(at(6800, view({ epoch: 2, ins: [3, 3, 0] })), 'waiting', 'reset (a kill, a restart) starts over');
  t.is(at(now, view({ appState: 'finished' })), 'finished');
  t.is(at(now, view({ appState: 'failed' })), 'failed');
});
