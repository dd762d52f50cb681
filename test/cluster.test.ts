import test, { type ExecutionContext } from 'ava';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { api, startMaster, startNode, until, waitForNodesOnline, type Proc, type RunningMaster } from './helpers/cluster.js';
import { mqttLogin } from '../cli/src/launcher.js';
import { tributary } from './helpers/cli.js';
import { startMosquitto } from './helpers/mosquitto.js';
import { expectedPlantWindows, plantKey, type PlantWindow } from './helpers/plant-reference.js';
import { tempDir } from './helpers/tmp.js';

const AGENTS = { 'dev-1': { site: 'plant-1' }, 'dev-2': { site: 'plant-1' }, 'dev-3': { site: 'plant-2' } };
const WORKERS = ['w-1', 'w-2'];

interface Cluster {
  master: RunningMaster;
  nodes: Proc[];
  dataBroker: string;
}

/** 1 master, 2 workers, 3 agents: separate OS processes on loopback, real LevelDB. */
async function startCluster(t: ExecutionContext, masterArgs: string[] = []): Promise<Cluster> {
  const dir = await tempDir();
  t.teardown(dir.cleanup);
  const master = await startMaster(join(dir.path, 'master'), masterArgs);
  const nodes = await Promise.all([
    ...WORKERS.map((id) => startNode('worker', id, master.brokerUrl, dir.path)),
    ...Object.entries(AGENTS).map(([id, labels]) => startNode('agent', id, master.brokerUrl, dir.path, labels)),
  ]);
  t.teardown(async () => {
    // Graceful stop must work: every process exits 0 on SIGTERM.
    const codes = await Promise.all([...nodes, master.proc].map((p) => p.stop('SIGTERM')));
    if (codes.some((c) => c !== 0)) t.log(`exit codes: ${codes.join(', ')}`);
  });
  await waitForNodesOnline(master.httpUrl, [...WORKERS, ...Object.keys(AGENTS)]);
  return { master, nodes, dataBroker: master.brokerUrl };
}

/** Subscribes like any third-party consumer, and resolves once `expected` results arrived. */
async function collectResults(brokerUrl: string, topic: string) {
  // A third-party consumer is a device of role client with a read grant (the broker refuses anonymous clients).
  const clientId = `consumer-${process.pid}-${Math.random().toString(16).slice(2)}`;
  const client = await mqtt.connectAsync(brokerUrl, { protocolVersion: 4, clientId, ...(await mqttLogin(brokerUrl, clientId, 'client', { read: [topic] })) });
  const got: PlantWindow[] = [];
  let waiter: { n: number; resolve: () => void } | null = null;
  client.on('message', (_topic, payload) => {
    got.push(JSON.parse(payload.toString()) as PlantWindow);
    if (waiter && got.length >= waiter.n) waiter.resolve();
  });
  await client.subscribeAsync(topic, { qos: 1 });
  return {
    got,
    atLeast: (n: number) => (got.length >= n ? Promise.resolve() : new Promise<void>((resolve) => (waiter = { n, resolve }))),
    close: () => client.endAsync(),
  };
}

function params(brokerUrl: string, topic: string, extra: Record<string, string> = {}): Record<string, string> {
  // No `broker`: plant-monitor's MQTT sink publishes on the cluster's broker with its node's identity.
  return { topic, count: '400', intervalMs: '100', startTs: '1700000000000', windowMs: '5000', seed: '9', ...extra };
}

async function submitAndCheck(t: ExecutionContext, c: Cluster, topic: string, extra: Record<string, string> = {}) {
  const p = params(c.dataBroker, topic, extra);
  const expected = await expectedPlantWindows(Object.keys(AGENTS), p);
  const consumer = await collectResults(c.dataBroker, topic);
  t.teardown(() => consumer.close());
  const submit = await tributary(['submit', 'examples/plant-monitor.ts', '--master', c.master.httpUrl, ...Object.entries(p).flatMap(([k, v]) => ['--param', `${k}=${v}`])]);
  t.is(submit.code, 0, submit.stderr);
  t.regex(submit.stdout, /submitted plant-monitor \(epoch 1\): \d+ task\(s\) placed/);

  await consumer.atLeast(expected.size);
  const app = await until('plant-monitor finished', async () => {
    const { body } = await api(c.master.httpUrl, '/apps/plant-monitor');
    return body?.state === 'finished' ? body : undefined;
  });
  t.is(consumer.got.length, expected.size, 'exactly one result per device, sensor and window');
  for (const w of consumer.got) {
    const want = expected.get(plantKey(w));
    if (!want) t.fail(`unexpected window ${plantKey(w)}`);
    else if (w.count !== want.count || w.min !== want.min || w.max !== want.max || Math.abs(w.avg - want.avg) > 1e-9) {
      t.fail(`window ${plantKey(w)}: got ${JSON.stringify(w)}, expected ${JSON.stringify(want)}`);
    }
  }
  t.deepEqual([...new Set(consumer.got.map((w) => w.device))].sort(), Object.keys(AGENTS).sort());
  // Each result carries its deterministic id (mqttSink idField): one per window.
  const ids = consumer.got.map((w) => (w as PlantWindow & { _id?: unknown })._id);
  t.true(ids.every((id) => typeof id === 'string'), 'every result has an _id');
  t.is(new Set(ids).size, expected.size);
  return app;
}

function placementOf(app: { tasks: { processor: number; node: string; kind: string }[] }, processor: number) {
  return app.tasks.filter((t) => t.processor === processor).map((t) => `${t.kind}:${t.node}`).sort();
}

test.serial('plant-monitor across 1 master, 2 workers and 3 agents (embedded aedes): every window right, edge on agents, cloud on workers', async (t) => {
  const c = await startCluster(t);
  const app = await submitAndCheck(t, c, 'plant/windows');
  t.deepEqual(placementOf(app, 0), ['agent:dev-1', 'agent:dev-2', 'agent:dev-3'], 'sensors and the edge filter run on every agent');
  t.true(placementOf(app, 1).every((p) => p.startsWith('worker:')), 'windows run on workers');
  const clock = await api(c.master.httpUrl, '/apps/plant-monitor/clock');
  t.is(clock.body.minClock, 'end', 'every source ended: the application clock is at its end');
  const seen = clock.body.history.map((h: [number, number | string]) => (h[1] === 'start' ? -Infinity : h[1] === 'end' ? Infinity : h[1])) as number[];
  t.true(seen.every((x, i) => i === 0 || x >= seen[i - 1]), 'the clock never moved backwards');

  const cli = await tributary(['apps', '--json', '--master', c.master.httpUrl]);
  t.is(cli.code, 0, cli.stderr);
  const listed = JSON.parse(cli.stdout) as { id: string; tasks: { processor: number; node: string }[] }[];
  t.deepEqual(listed.find((a) => a.id === 'plant-monitor')!.tasks.filter((x) => x.processor === 0).map((x) => x.node).sort(), ['dev-1', 'dev-2', 'dev-3']);
});

test.serial('changing .at() of the windows to edge moves them to the agents, with the same results', async (t) => {
  const c = await startCluster(t);
  const app = await submitAndCheck(t, c, 'plant/windows-edge', { windowsAt: 'edge' });
  t.is(app.plan.processors.length, 1, 'everything fuses into one edge chain');
  t.deepEqual(placementOf(app, 0), ['agent:dev-1', 'agent:dev-2', 'agent:dev-3']);
});

test.serial('the same cluster against Mosquitto (--broker): every window right', async (t) => {
  const mosquitto = await startMosquitto();
  t.teardown(() => mosquitto.stop());
  const c = await startCluster(t, ['--broker', mosquitto.url]);
  t.is(c.master.brokerUrl, mosquitto.url);
  await submitAndCheck(t, c, 'plant/windows');
});

test.serial('launched nodes start with their role\'s V8 flags: the master a small young generation and a floor under its old generation, workers and agents the defaults', async (t) => {
  const c = await startCluster(t);
  const nodeArgs = async (p: Proc) => (await readFile(`/proc/${p.child.pid}/cmdline`, 'utf8')).split('\0');
  const masterArgs = await nodeArgs(c.master.proc);
  t.true(masterArgs.includes('--max-semi-space-size=2'));
  t.true(masterArgs.includes('--initial-old-space-size=64'));
  t.is(c.nodes.length, WORKERS.length + Object.keys(AGENTS).length);
  for (const node of c.nodes) t.false((await nodeArgs(node)).some((a) => a.startsWith('--max-semi-space-size') || a.startsWith('--initial-old-space-size')), node.name);
});

test.serial('the master API answers 404 for unknown apps and 400 for bad submissions', async (t) => {
  const c = await startCluster(t);
  const unknown = await api(c.master.httpUrl, '/apps/nope');
  t.is(unknown.status, 404);
  t.regex(unknown.body.error, /no application named nope/);
  const bad = await api(c.master.httpUrl, '/apps', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ plan: { app: 'x y', processors: [] }, bundle: '' }) });
  t.is(bad.status, 400);
  t.true(bad.body.details.some((d: string) => /plan\.app/.test(d)));
  const kill = await tributary(['kill', 'nope', '--master', c.master.httpUrl]);
  t.is(kill.code, 1);
  t.regex(kill.stderr, /master answered 404: no application named nope/);
});
