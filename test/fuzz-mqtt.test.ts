/**
 * Hostile input on every topic (issue 13, fuzz item): 50,000 seeded mutations of valid payloads
 * (desired states, app clocks, data frames, credits, hellos, heartbeats, checkpoint reports) are
 * published into a running master, worker and agent while plant-monitor runs on them. No process
 * crashes or hangs, every payload that fails its receiver's decoder (decodeFrame / decodeControl,
 * checked here first) is counted by that receiver, and plant-monitor's results stay exact.
 */
import test from 'ava';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { cborEncoder, decodeControl, decodeFrame, encodeFrame, mulberry32, topics, type ControlKind } from '@tributary/shared';
import { api, startMaster, startNode, until, waitForNodesOnline } from './helpers/cluster.js';
import { tributary } from './helpers/cli.js';
import { plainClient } from './helpers/mqtt.js';
import { MUTATIONS, mutate } from './helpers/mutate.js';
import { expectedPlantWindows, plantKey, type PlantWindow } from './helpers/plant-reference.js';
import { tempDir } from './helpers/tmp.js';

const PAYLOADS = 50_000;
const BATCH = 500;
const SEED = 13;
const APP = 'plant-monitor';
const WORKER = 'w-1';
const AGENT = 'dev-1';
const enc = (v: unknown) => cborEncoder.encode(v);

/** Who counts a rejected payload: the master, a node's control decoder, or a node's app wire. */
type Counter = 'master' | `ctl:${string}` | `wire:${string}`;

interface Target {
  topic: string;
  base: Uint8Array;
  /** True when the receiver would accept the payload (such payloads are not sent). */
  valid: (p: Uint8Array) => boolean;
  counters: Counter[];
}

const control = (kind: ControlKind) => (p: Uint8Array) => decodeControl(kind, p).ok;
const frameOk = (p: Uint8Array) => {
  try {
    decodeFrame(p);
    return true;
  } catch {
    return false;
  }
};

function targets(): Target[] {
  const t0 = 1_700_000_000_000;
  const desired = (node: string) => enc({
    node, boot: 'b1',
    apps: [{ app: APP, epoch: 1, version: 1, bundle: { sha256: 'a'.repeat(64), url: 'http://127.0.0.1:1/bundles/x' }, params: { count: '400' }, tasks: [{ processor: 0, index: 0, node }] }],
  });
  const frame = encodeFrame({
    app: APP, epoch: 1, sender: 0, firstSeq: 0, clock: t0 + 100,
    messages: [{ ts: t0, value: { device: AGENT, sensor: 'temperature', value: 21.5 } }, { ts: t0 + 100, key: 'dev-1/vibration', value: { v: [1, 2] } }],
  });
  const credit = enc([[65_536, 8], [65_537, 16]]);
  const task = { processor: 0, index: 0, in: 5, out: 5, late: 0, rejected: 0, queued: 0, maxQueued: 1, inputClock: t0 };
  const hb = enc({ now: t0, apps: { [APP]: { epoch: 1, state: 'running', tasks: [task], wire: { framesIn: 3 } } }, controlRejected: 0 });
  const hello = enc({ kind: 'agent', labels: { site: 'plant-1' }, slots: 4, version: '0.1.0', now: t0, boot: 'b1' });
  const ckpt = enc({ app: APP, epoch: 1, processor: 1, index: 0, t: t0 + 5000, state: new Uint8Array([1, 2, 3]) });
  const clock = enc({ app: APP, clock: t0 + 5000, at: t0, checkpoint: { epoch: 1, t: t0 + 5000 } });
  const out: Target[] = [];
  for (const [node, other] of [[WORKER, AGENT], [AGENT, WORKER]] as const) {
    out.push({ topic: topics.control(node), base: desired(node), valid: control('desired'), counters: [`ctl:${node}`] });
    out.push({ topic: topics.data(other, node, APP, '65536'), base: frame, valid: frameOk, counters: [`wire:${node}`] });
    out.push({ topic: topics.credit(other, node, APP, '0'), base: credit, valid: control('credit'), counters: [`wire:${node}`] });
    out.push({ topic: topics.hello(node), base: hello, valid: control('hello'), counters: ['master'] });
    out.push({ topic: topics.heartbeat(node), base: hb, valid: control('heartbeat'), counters: ['master'] });
    out.push({ topic: topics.checkpoint(node), base: ckpt, valid: control('checkpoint'), counters: ['master'] });
  }
  // Every node hosting the application reads its clock topic.
  out.push({ topic: topics.appClock(APP), base: clock, valid: control('clock'), counters: [`wire:${WORKER}`, `wire:${AGENT}`] });
  return out;
}

/** The seeded payload stream: only payloads the receiver must refuse; decodable ones are skipped. */
function* payloads(seed: number): Generator<{ topic: string; payload: Uint8Array; counters: Counter[] } | 'skipped'> {
  const rng = mulberry32(seed);
  const all = targets();
  for (let i = 0; ; i++) {
    const target = all[i % all.length]!;
    const kind = MUTATIONS[Math.floor(rng() * MUTATIONS.length)]!;
    let payload: Uint8Array;
    try {
      payload = mutate(rng, target.base, kind);
    } catch {
      payload = mutate(rng, target.base, 'bitflip'); // a type swap the encoder cannot write
    }
    if (target.valid(payload)) yield 'skipped';
    else yield { topic: target.topic, payload, counters: target.counters };
  }
}

async function metric(httpUrl: string, name: string): Promise<number> {
  const text = await (await fetch(new URL('/metrics', httpUrl))).text();
  return Number(new RegExp(`^${name} (\\d+)`, 'm').exec(text)?.[1] ?? 0);
}

test('the fuzz stream is deterministic and holds only payloads the receivers refuse', (t) => {
  const take = (n: number) => {
    const out: string[] = [];
    for (const p of payloads(SEED)) {
      if (p !== 'skipped') out.push(`${p.topic} ${Buffer.from(p.payload).toString('hex')}`);
      if (out.length === n) return out;
    }
    return out;
  };
  t.deepEqual(take(300), take(300));
  const topicsSeen = new Set(take(300).map((l) => l.split(' ')[0]));
  t.is(topicsSeen.size, targets().length, 'every target topic gets payloads');
});

test.serial('50,000 mutated payloads on control and data topics: no crash, no hang, every bad message counted, results exact', async (t) => {
  t.timeout(115_000);
  const dir = await tempDir();
  t.teardown(dir.cleanup);
  // The nodes' own decoders are under test: the broker's ACL (which would stop most of these
  // messages before they reach a node) is off for this master, so everything gets through.
  const master = await startMaster(join(dir.path, 'master'), ['--allow-anonymous-mqtt', 'on']);
  const worker = await startNode('worker', WORKER, master.brokerUrl, dir.path);
  const agent = await startNode('agent', AGENT, master.brokerUrl, dir.path, { site: 'plant-1' });
  t.teardown(async () => {
    const codes = await Promise.all([worker, agent, master.proc].map((p) => p.stop('SIGTERM')));
    if (codes.some((c) => c !== 0)) t.log(`exit codes: ${codes.join(', ')}`);
  });
  const crashed = Promise.race([worker, agent, master.proc].map((p) => p.exited.then((code) => `${p.name} exited (${code})`)));
  await waitForNodesOnline(master.httpUrl, [WORKER, AGENT]);

  // plant-monitor, paced so that it runs while the fuzz does; a plain consumer collects results.
  const resultTopic = 'plant/fuzz-windows';
  const p = { broker: master.brokerUrl, topic: resultTopic, count: '400', intervalMs: '100', startTs: '1700000000000', windowMs: '5000', seed: '9', paced: 'true', speed: '4' };
  const expected = await expectedPlantWindows([AGENT], p);
  const got: PlantWindow[] = [];
  const consumer = await plainClient(t, master.brokerUrl);
  consumer.on('message', (_topic, payload) => got.push(JSON.parse(payload.toString()) as PlantWindow));
  await consumer.subscribeAsync(resultTopic, { qos: 1 });
  const submit = await tributary(['submit', 'examples/plant-monitor.ts', '--master', master.httpUrl, ...Object.entries(p).flatMap(([k, v]) => ['--param', `${k}=${v}`])]);
  t.is(submit.code, 0, submit.stderr);
  await until('plant-monitor running on both nodes', async () => {
    const { body } = await api(master.httpUrl, '/nodes');
    // Running, not only assigned: input for an application still starting has no decoder yet.
    return body.every((n: { apps: Record<string, { state: string }> }) => n.apps[APP]?.state === 'running') ? true : undefined;
  });

  // The fuzz: bounded batches, QoS 0 and 1 alternating, each batch awaited before the next.
  const fuzzer = await mqtt.connectAsync(master.brokerUrl, { protocolVersion: 4, reconnectPeriod: 0, clientId: `fuzzer-${process.pid}` });
  t.teardown(() => fuzzer.endAsync(true));
  const bound = new Map<Counter, number>();
  let sent = 0;
  let skipped = 0;
  let batch: Promise<unknown>[] = [];
  for (const item of payloads(SEED)) {
    if (item === 'skipped') {
      skipped++;
      continue;
    }
    for (const c of item.counters) bound.set(c, (bound.get(c) ?? 0) + 1);
    batch.push(fuzzer.publishAsync(item.topic, Buffer.from(item.payload), { qos: (sent % 2) as 0 | 1, retain: false }));
    if (++sent % BATCH === 0 || sent === PAYLOADS) {
      await Promise.all(batch);
      batch = [];
    }
    if (sent === PAYLOADS) break;
  }
  t.log(`sent ${sent} payloads, skipped ${skipped} mutations that still decoded; lower bounds: ${JSON.stringify(Object.fromEntries(bound))}`);

  // Every refused payload is counted by its receiver (read from heartbeats and /metrics).
  const masterBound = bound.get('master') ?? 0;
  let last: unknown;
  t.teardown(() => t.log(`last counts seen: ${JSON.stringify(last)}`));
  const counted = await until('every bad payload counted', async () => {
    const { body: nodes } = await api(master.httpUrl, '/nodes');
    const m = await metric(master.httpUrl, 'tributary_control_rejected_total');
    const view = Object.fromEntries(nodes.map((n: { id: string; controlRejected?: number; apps: Record<string, { wire: { framesRejected?: number } }> }) =>
      [n.id, { ctl: n.controlRejected ?? 0, wire: n.apps[APP]?.wire.framesRejected ?? 0 }]));
    last = { master: m, ...view };
    const ok = m >= masterBound && [WORKER, AGENT].every((id) => view[id] && view[id].ctl >= (bound.get(`ctl:${id}`) ?? 0) && view[id].wire >= (bound.get(`wire:${id}`) ?? 0));
    return ok ? { master: m, ...view } : undefined;
  }, 300, 100);
  t.log(`counted: ${JSON.stringify(counted)}`);
  t.true(counted.master >= masterBound);

  // Nothing crashed, both nodes still online, plant-monitor finished with exact results.
  const app = await Promise.race([
    until('plant-monitor finished', async () => {
      const { body } = await api(master.httpUrl, '/apps/plant-monitor');
      return body?.state === 'finished' ? body : undefined;
    }),
    crashed.then((why) => Promise.reject(new Error(why))),
  ]);
  t.is(app.state, 'finished');
  await until('every result delivered', async () => (got.length >= expected.size ? true : undefined));
  t.is(got.length, expected.size, 'exactly one result per device, sensor and window');
  for (const w of got) {
    const want = expected.get(plantKey(w));
    if (!want) t.fail(`unexpected window ${plantKey(w)}`);
    else if (w.count !== want.count || w.min !== want.min || w.max !== want.max || Math.abs(w.avg - want.avg) > 1e-9) {
      t.fail(`window ${plantKey(w)}: got ${JSON.stringify(w)}, expected ${JSON.stringify(want)}`);
    }
  }
  const { body: nodes } = await api(master.httpUrl, '/nodes');
  t.deepEqual(nodes.map((n: { id: string; online: boolean }) => [n.id, n.online]), [[AGENT, true], [WORKER, true]]);
  for (const proc of [worker, agent, master.proc]) t.is(proc.child.exitCode, null, `${proc.name} still running`);
  t.is(app.epoch ?? 1, 1, 'no recovery was needed');
  // Refusals are warnings: nothing the fuzz sent made a process log an error (an exception caught late).
  const errors = [worker, agent, master.proc].flatMap((proc) => proc.lines.filter((l) => (l.level ?? 0) >= 50).map((l) => `${proc.name}: ${l.msg}`));
  t.deepEqual(errors, []);
});
