import test from 'ava';
import { execFile } from 'node:child_process';
import mqtt, { type MqttClient } from 'mqtt';
import {
  ErrorCodes,
  LocalRuntime,
  cborDecoder,
  cborEncoder,
  createLogger,
  fleet,
  fleetMaxDelayMs,
  memorySink,
  mqttSource,
  pipeline,
  type FleetOptions,
  type FleetReading,
  type Message,
  type SourceContext,
  type SourceSpec,
} from '@tributary/shared';
import { fleetDeviceIds, fleetPlan, startThirdPartyDevices } from '@tributary/simulators';
import { testBroker, whenOpened } from './helpers/mqtt.js';
import { repoRoot } from './helpers/cli.js';
import { referenceLate } from './helpers/device-clock-reference.js';

const silent = createLogger({ level: 'silent' });
const START = 1_700_000_000_000;
type Rec = Message<FleetReading>;

/** Everything at once: the hardest case for ordering and resume. */
const full: FleetOptions = {
  devices: 6,
  sensors: ['temperature', 'humidity'],
  rateHz: 20,
  count: 60,
  startTs: START,
  seed: 7,
  model: 'random-walk',
  spikes: 0.05,
  payloadBytes: 120,
  clockSkewMs: 40,
  maxOutOfOrderMs: 300,
  bursts: { everyMs: 1000, durationMs: 250, factor: 4 },
  disconnects: [
    { devices: [2], atMs: 500, durationMs: 700 },
    { fraction: 0.5, atMs: 1500, durationMs: 200 },
  ],
};
/** In order, no outages: the generator's direct path. */
const simple: FleetOptions = { devices: 4, sensors: ['t', 'h', 'p'], rateHz: 10, count: 25, startTs: START, seed: 3 };

function ctx(over: Partial<SourceContext> = {}): SourceContext {
  return { taskIndex: 0, parallelism: 1, log: silent, nodeId: 'local', nodeLabels: {}, reject: () => undefined, ...over };
}

/** Reads a fleet source with the given batch sizes (cycled) until it ends, or until `limit` records. */
async function readAll(spec: SourceSpec<FleetReading>, sizes: number[], c: SourceContext = ctx(), limit = Infinity) {
  const source = spec.create();
  await source.open(c);
  const out: Rec[] = [];
  for (let k = 0; out.length < limit; k++) {
    const batch = await source.read(Math.min(sizes[k % sizes.length], limit - out.length));
    if (batch === null) break;
    out.push(...batch);
  }
  const position = source.position!();
  await source.close();
  return { out, position };
}

const byDeviceSeq = (a: Rec, b: Rec) => (a.value.device < b.value.device ? -1 : a.value.device > b.value.device ? 1 : a.value.seq - b.value.seq);
const sorted = (rs: Rec[]) => [...rs].sort(byDeviceSeq);

test('the same seed and options give the same records in the same order, whatever the batch size', async (t) => {
  for (const options of [full, simple]) {
    const plan = fleetPlan(options);
    const n = (options.devices as number) * options.sensors!.length * options.count!;
    t.is(plan.length, n);
    t.is(new Set(plan.map((m) => `${m.value.device}/${m.value.seq}`)).size, n, '(device, seq) is unique');
    for (const sizes of [[1], [7], [1000], [3, 50, 1]]) {
      const { out } = await readAll(fleet(options), sizes);
      t.deepEqual(out, plan, `batches ${sizes.join(',')}`);
    }
  }
  // A different seed changes the values; a different node changes the device ids.
  const other = fleetPlan({ ...full, seed: 8 });
  t.notDeepEqual(other.map((m) => m.value.value), fleetPlan(full).map((m) => m.value.value));
  t.deepEqual(fleetDeviceIds({ devices: 2 }, 'edge-7'), ['edge-7-d0', 'edge-7-d1']);
  t.deepEqual([...new Set(fleetPlan(simple, { nodeId: 'edge-7' }).map((m) => m.value.device))], ['edge-7-d0', 'edge-7-d1', 'edge-7-d2', 'edge-7-d3']);
});

test('resume: reading K records, then a fresh source from position() reads exactly the rest', async (t) => {
  for (const options of [full, simple, { ...simple, model: 'random-walk' as const }]) {
    const plan = fleetPlan(options);
    for (const k of [0, 1, 5, 37, 100, Math.floor(plan.length / 2), plan.length - 1, plan.length]) {
      const first = await readAll(fleet(options), [13], ctx(), k);
      t.deepEqual(first.out, plan.slice(0, k));
      // The position is plain data: it survives the replay log's CBOR.
      const resumeFrom = cborDecoder.decode(cborEncoder.encode(first.position));
      const rest = await readAll(fleet(options), [11], ctx({ resumeFrom }));
      t.deepEqual([...first.out, ...rest.out], plan, `resumed after ${k} of ${plan.length}`);
    }
  }
  // At every position of a small fleet whose backlogs share a reconnect time (ties on delivery time).
  const small: FleetOptions = { devices: 3, rateHz: 10, count: 30, startTs: START, model: 'random-walk', maxOutOfOrderMs: 100, disconnects: [{ devices: [0, 1], atMs: 1000, durationMs: 500 }] };
  const plan = fleetPlan(small);
  for (let k = 0; k <= plan.length; k++) {
    const first = await readAll(fleet(small), [4], ctx(), k);
    const rest = await readAll(fleet(small), [1000], ctx({ resumeFrom: first.position }));
    if (!t.deepEqual([...first.out, ...rest.out], plan, `resumed after ${k} of ${plan.length}`)) break;
  }
  // A position from a fleet with other options is refused.
  const { position } = await readAll(fleet(simple), [5], ctx(), 5);
  const err = await t.throwsAsync(async () => fleet({ ...simple, devices: 5 }).create().open(ctx({ resumeFrom: position })));
  t.is((err as { code?: string }).code, ErrorCodes.SOURCE_FAILED);
});

test('out-of-order delivery stays within maxOutOfOrderMs, and the declared watermark makes nothing late', (t) => {
  const base: FleetOptions = { devices: 8, rateHz: 50, count: 100, startTs: START, maxOutOfOrderMs: 200 };
  for (const clockSkewMs of [0, 30]) {
    const options = { ...base, clockSkewMs };
    const bound = 200 + 2 * clockSkewMs;
    t.is(fleet(options).watermark.maxDelayMs, bound);
    let maxSeen = -Infinity;
    let worst = 0;
    for (const m of fleetPlan(options)) {
      worst = Math.max(worst, maxSeen - m.ts);
      maxSeen = Math.max(maxSeen, m.ts);
    }
    t.true(worst <= bound, `a record came ${worst} ms behind a later one (bound ${bound})`);
    t.true(worst > 200 / 2, `out of order for real (worst ${worst} ms)`);
  }
});

test('clock skew is constant per device and within ±clockSkewMs', (t) => {
  const options: FleetOptions = { devices: 20, rateHz: 10, count: 10, startTs: START, clockSkewMs: 250 };
  const skewed = sorted(fleetPlan(options));
  const straight = sorted(fleetPlan({ ...options, clockSkewMs: 0 }));
  const skews = new Map<string, Set<number>>();
  skewed.forEach((m, i) => {
    t.is(m.value.value, straight[i].value.value, 'skew moves timestamps, not values');
    const s = skews.get(m.value.device) ?? new Set();
    s.add(m.ts - straight[i].ts);
    skews.set(m.value.device, s);
  });
  const perDevice = [...skews.values()].map((s) => [...s]);
  t.true(perDevice.every((s) => s.length === 1), 'one skew per device');
  t.true(perDevice.every(([s]) => Math.abs(s) <= 250));
  t.true(new Set(perDevice.map(([s]) => s)).size > 10, 'devices differ');
});

test('a disconnected device delivers its backlog on reconnect, in order, with the original timestamps', (t) => {
  const A = START + 1000, R = A + 2000;
  const options: FleetOptions = {
    devices: 5, rateHz: 10, count: 50, startTs: START,
    disconnects: [{ devices: ['local-d1'], atMs: 1000, durationMs: 2000 }, { fraction: 0.4, atMs: 3500, durationMs: 500 }],
  };
  const plan = fleetPlan(options);
  t.deepEqual(sorted(plan), sorted(fleetPlan({ ...options, disconnects: [] })), 'the same records, only delivered later');

  const d1 = plan.filter((m) => m.value.device === 'local-d1');
  t.deepEqual(d1, [...d1].sort((a, b) => a.value.seq - b.value.seq), 'in order');
  const backlog = plan.flatMap((m, i) => (m.value.device === 'local-d1' && m.ts >= A && m.ts < R ? [i] : []));
  t.is(backlog.length, 20);
  t.is(backlog[backlog.length - 1] - backlog[0], backlog.length - 1, 'one contiguous backlog');
  plan.forEach((m, i) => {
    if (m.value.device === 'local-d1') return;
    if (m.ts < R) t.true(i < backlog[0], 'everything of the others before the reconnect comes first');
    else t.true(i > backlog[backlog.length - 1], 'and everything after it comes after');
  });

  // The fraction picks round(0.4 · 5) = 2 devices: theirs are the only records delivered late.
  const held = new Set<string>();
  let maxSeen = -Infinity;
  for (const m of plan) {
    if (m.ts < maxSeen && m.ts >= START + 3500) held.add(m.value.device);
    maxSeen = Math.max(maxSeen, m.ts);
  }
  t.is(held.size, 2);
  // The default watermark does not cover outages (backlogs are late); maxDelayMs can.
  t.is(fleet(options).watermark.maxDelayMs, 0);
  t.is(fleet({ ...options, maxDelayMs: 2000 }).watermark.maxDelayMs, 2000);
});

test('payloadBytes pads every value to exactly that JSON size', (t) => {
  for (const model of ['sine', 'random-walk'] as const) {
    const plan = fleetPlan({ devices: 3, sensors: ['temperature', 'x'], rateHz: 100, count: 200, startTs: START, model, spikes: 0.2, clockSkewMs: 5, payloadBytes: 256 });
    t.true(plan.every((m) => JSON.stringify(m.value).length === 256 && /^x*$/.test(m.value.pad!)));
    t.true(new Set(plan.map((m) => m.value.pad!.length)).size > 1, 'the pad follows the other fields');
  }
  const tiny = fleetPlan({ devices: 1, count: 3, startTs: START, payloadBytes: 10 });
  t.true(tiny.every((m) => m.value.pad === ''), 'below the bare size: no pad');
  t.true(fleetPlan(simple).every((m) => !('pad' in m.value)));
});

test('bursts multiply the rate inside each burst window', (t) => {
  const perWindow = (options: FleetOptions) => {
    const counts = new Map<string, number>();
    for (const m of fleetPlan(options)) {
      const at = m.ts - START;
      const window = `${m.value.device} ${Math.floor(at / 1000)} ${at % 1000 >= 800 ? 'burst' : 'normal'}`;
      counts.set(window, (counts.get(window) ?? 0) + 1);
    }
    return counts;
  };
  const base: FleetOptions = { devices: 3, rateHz: 10, startTs: START };
  // 3 periods: 10 ticks per second without bursts, 8 + 5·2 = 18 with (rate ×5 in the last 200 ms).
  const bursty = perWindow({ ...base, count: 54, bursts: { everyMs: 1000, durationMs: 200, factor: 5 } });
  const steady = perWindow({ ...base, count: 30 });
  t.is(bursty.size, 18);
  for (const [window, n] of bursty) t.is(n, window.endsWith('burst') ? 10 : 8, window);
  for (const [window, n] of steady) t.is(n, window.endsWith('burst') ? 2 : 8, window);
});

test('parallel tasks split the devices between them', (t) => {
  const options: FleetOptions = { ...full, devices: 5 };
  t.is(fleet(options).maxParallelism, 5);
  const parts = [0, 1].map((taskIndex) => fleetPlan(options, { taskIndex, parallelism: 2 }));
  t.deepEqual(new Set(parts[0].map((m) => m.value.device)), new Set(['local-d0', 'local-d2', 'local-d4']));
  t.deepEqual(sorted([...parts[0], ...parts[1]]), sorted(fleetPlan(options)));
});

test('through LocalRuntime the sink gets exactly the plan; a paced fleet delivers a prefix of it', async (t) => {
  // A clock per device: a device in an outage holds the source's clock back, so its backlog is
  // on time; with an idle timeout (event time) shorter than the outage it stops holding it back
  // and its backlog behind the clock is late. Both checked per record against the reference.
  const maxDelay = fleet(full).watermark.maxDelayMs;
  const plan = fleetPlan(full);
  for (const idleMs of [0, 400]) {
    const sink = memorySink<FleetReading>();
    const p = pipeline('fleet').idleTimeout(idleMs);
    p.source(fleet(full)).sink(sink);
    const summary = await new LocalRuntime(p.compile(), { log: silent, batchSize: 64 }).run();
    const flags = referenceLate(plan.map((m) => ({ ts: m.ts, device: m.value.device })), () => maxDelay, idleMs);
    const late = new Set(plan.filter((_, i) => flags[i]));
    if (idleMs === 0) t.is(late.size, 0, 'no idle timeout: the silent device holds the clock, nothing is late');
    else t.true([...late].some((m) => m.value.device === 'local-d2'), 'past the idle timeout the backlog is late');
    t.deepEqual(sink.messages.map((m) => m.value), plan.filter((m) => !late.has(m)).map((m) => m.value));
    t.is(summary.processors[0].in, plan.length);
    t.is(summary.lateUndelivered, late.size);
  }

  const paced = fleet({ ...simple, startTs: Date.now(), paced: true }).create();
  await paced.open(ctx());
  const out = (await paced.read(1000))!;
  await paced.close();
  t.true(out.length >= 1 && out.length < 1000);
  t.deepEqual(out, fleetPlan({ ...simple, startTs: out[0].ts }).slice(0, out.length));
});

test('options are checked when the fleet is declared', (t) => {
  t.throws(() => fleet({ devices: 0 }), { instanceOf: TypeError });
  t.throws(() => fleet({ rateHz: -1 }), { instanceOf: TypeError });
  t.throws(() => fleet({ bursts: { everyMs: 100, durationMs: 100, factor: 2 } }), { instanceOf: TypeError });
  t.throws(() => fleet({ disconnects: [{ atMs: 0, durationMs: 10 }] }), { instanceOf: TypeError });
  t.throws(() => fleet({ devices: 3, disconnects: [{ atMs: 0, durationMs: 10, devices: [3] }] }), { instanceOf: TypeError });
  t.throws(() => fleetPlan({ count: 1 }), { instanceOf: TypeError, message: /startTs/ });
});

for (const format of ['json', 'cbor'] as const) {
  test(`third-party devices publishing ${format.toUpperCase()} are ingested by mqttSource, every reading`, async (t) => {
    const url = await testBroker(t);
    const options = { devices: 5, sensors: ['temperature', 'humidity'], rateHz: 10, count: 20, startTs: START, seed: 2, clockSkewMs: 20, maxOutOfOrderMs: 150 };
    const expected = fleetPlan(options, { nodeId: 'meter' });
    const sink = memorySink<FleetReading>();
    const { spec, opened } = whenOpened(
      mqttSource<FleetReading>({ url, topics: 'devices/+/telemetry', format, count: expected.length, maxDelayMs: fleetMaxDelayMs(options) }),
    );
    const p = pipeline(`third-party-${format}`);
    p.source(spec).sink(sink);
    const run = new LocalRuntime(p.compile(), { log: silent }).run();
    await opened;
    const devices = await startThirdPartyDevices({ ...options, url, idPrefix: 'meter', format, topic: (device) => `devices/${device}/telemetry`, maxInFlight: 64 });
    t.is(await devices.done, expected.length);
    const summary = await run;
    t.is(sink.messages.length, expected.length);
    t.deepEqual(sorted(sink.messages.map((m) => ({ ts: m.ts, value: m.value }))), sorted(expected));
    t.true(sink.messages.every((m) => m.key === `devices/${m.value.device}/telemetry`));
    t.is(summary.rejected, 0);
    t.is(summary.lateUndelivered, 0);
  });
}

test('tributary-sim publish sends the readings of the plan as plain JSON', async (t) => {
  const url = await testBroker(t);
  const subscriber: MqttClient = await mqtt.connectAsync(url, { protocolVersion: 4, reconnectPeriod: 0 });
  t.teardown(() => subscriber.endAsync(true));
  const received: FleetReading[] = [];
  subscriber.on('message', (_topic, payload) => void received.push(JSON.parse(payload.toString())));
  await subscriber.subscribeAsync('fleet/#', { qos: 1 });
  const args = ['publish', '--url', url, '--devices', '3', '--rate', '10', '--count', '4', '--seed', '5', '--start-ts', String(START), '--topic', 'fleet/{device}/{sensor}', '--format', 'json'];
  const result = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) =>
    execFile(process.execPath, [`${repoRoot}/simulators/bin/tributary-sim.js`, ...args], { cwd: repoRoot }, (err, stdout, stderr) =>
      resolve({ code: err ? Number(err.code ?? 1) : 0, stdout, stderr }),
    ),
  );
  t.is(result.code, 0, result.stderr);
  t.regex(result.stdout, /published 12 messages/);
  // Acknowledged at QoS 1 before the CLI exited, so forwarded to us before a message published now.
  await subscriber.publishAsync('fleet/end', '{}', { qos: 1 });
  while (received.length < 13) await new Promise((resolve) => subscriber.once('message', resolve));
  const expected = fleetPlan({ devices: 3, rateHz: 10, count: 4, seed: 5, startTs: START }, { nodeId: 'sensor' });
  t.deepEqual(received.slice(0, 12), expected.map((m) => m.value));
});
