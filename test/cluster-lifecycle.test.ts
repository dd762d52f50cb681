import test, { type ExecutionContext } from 'ava';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { api, startMaster, startNode, until, waitForNodesOnline, type Proc, type RunningMaster } from './helpers/cluster.js';
import { mqttLogin } from '../cli/src/launcher.js';
import { repoRoot, tributary } from './helpers/cli.js';
import { tempDir } from './helpers/tmp.js';
import { openSse } from './helpers/sse.js';

async function cluster(t: ExecutionContext): Promise<{ master: RunningMaster; dir: string; nodes: Proc[] }> {
  const dir = await tempDir();
  t.teardown(dir.cleanup);
  const master = await startMaster(join(dir.path, 'master'));
  const nodes: Proc[] = [];
  t.teardown(async () => {
    await Promise.all(nodes.map((n) => n.stop()));
    await master.proc.stop();
  });
  return { master, dir: dir.path, nodes };
}

/** Resolves with the first result whose device is `device`. */
async function firstResultFrom(brokerUrl: string, topic: string, device: string): Promise<{ device: string }> {
  const clientId = `consumer-${process.pid}-${Math.random().toString(16).slice(2)}`;
  const client = await mqtt.connectAsync(brokerUrl, { protocolVersion: 4, clientId, ...(await mqttLogin(brokerUrl, clientId, 'client', { read: [topic] })) });
  await client.subscribeAsync(topic, { qos: 1 });
  return new Promise((resolve) => {
    client.on('message', (_t, payload) => {
      const w = JSON.parse(payload.toString()) as { device: string };
      if (w.device === device) void client.endAsync().then(() => resolve(w));
    });
  });
}

/** plant-monitor live, its windows on the cluster's own broker (no `broker` param: the default). */
const live = (topic: string) =>
  ['--param', `topic=${topic}`, '--param', 'windowMs=1000', '--param', 'intervalMs=20'];

test.serial('an agent that registers later gets its edge tasks, and its results flow', async (t) => {
  const c = await cluster(t);
  c.nodes.push(await startNode('worker', 'w-1', c.master.brokerUrl, c.dir));
  c.nodes.push(await startNode('agent', 'dev-1', c.master.brokerUrl, c.dir));
  await waitForNodesOnline(c.master.httpUrl, ['w-1', 'dev-1']);
  const submit = await tributary(['submit', 'examples/plant-monitor.ts', '--master', c.master.httpUrl, ...live('late/join')]);
  t.is(submit.code, 0, submit.stderr);
  await firstResultFrom(c.master.brokerUrl, 'late/join', 'dev-1');

  const fromNewcomer = firstResultFrom(c.master.brokerUrl, 'late/join', 'dev-2');
  c.nodes.push(await startNode('agent', 'dev-2', c.master.brokerUrl, c.dir));
  const app = await until('a task on dev-2', async () => {
    const { body } = await api(c.master.httpUrl, '/apps/plant-monitor');
    return body.tasks.some((x: { node: string }) => x.node === 'dev-2') ? body : undefined;
  });
  t.deepEqual(app.tasks.filter((x: { processor: number }) => x.processor === 0).map((x: { node: string }) => x.node).sort(), ['dev-1', 'dev-2']);
  t.is((await fromNewcomer).device, 'dev-2');
  t.is((await tributary(['kill', 'plant-monitor', '--master', c.master.httpUrl])).code, 0);
});

test.serial('a killed agent is seen offline at once (last will); back with the same id, it resumes its tasks', async (t) => {
  const c = await cluster(t);
  c.nodes.push(await startNode('worker', 'w-1', c.master.brokerUrl, c.dir));
  const agent = await startNode('agent', 'dev-1', c.master.brokerUrl, c.dir);
  await waitForNodesOnline(c.master.httpUrl, ['w-1', 'dev-1']);
  t.is((await tributary(['submit', 'examples/plant-monitor.ts', '--master', c.master.httpUrl, ...live('restart')])).code, 0);
  await firstResultFrom(c.master.brokerUrl, 'restart', 'dev-1');

  // The master's pushed snapshots (SSE) show the node offline: an event, not a poll.
  const stream = await openSse(`${c.master.httpUrl}/stream`, 10_000);
  t.teardown(() => stream.close());
  await agent.stop('SIGKILL');
  await stream.next((e) => (JSON.parse(e.data) as { nodes: Array<{ id: string; online: boolean }> }).nodes.some((n) => n.id === 'dev-1' && !n.online), 'dev-1 offline');
  await stream.close();

  const again = firstResultFrom(c.master.brokerUrl, 'restart', 'dev-1');
  c.nodes.push(await startNode('agent', 'dev-1', c.master.brokerUrl, c.dir));
  await waitForNodesOnline(c.master.httpUrl, ['dev-1']);
  t.is((await again).device, 'dev-1', 'the returning agent got its retained assignment and runs again');
});

test.serial('an application that throws fails on its nodes, which stay up and run the next one', async (t) => {
  const c = await cluster(t);
  c.nodes.push(await startNode('worker', 'w-1', c.master.brokerUrl, c.dir));
  c.nodes.push(await startNode('agent', 'dev-1', c.master.brokerUrl, c.dir));
  await waitForNodesOnline(c.master.httpUrl, ['w-1', 'dev-1']);
  await mkdir(join(repoRoot, 'test-output'), { recursive: true });
  const appDir = await mkdtemp(join(repoRoot, 'test-output', 'bad-'));
  t.teardown(() => rm(appDir, { recursive: true, force: true }));
  const bad = join(appDir, 'bad.mts');
  await writeFile(bad, `
    import { pipeline, simulatedSensors, stdoutSink } from 'tributary';
    export default pipeline('bad-app')
      .source(simulatedSensors({ count: 100, intervalMs: 1 })).at('edge')
      .map((r) => { if (r.ts > 0) throw new Error('sensor decoder exploded'); return r; })
      .rebalance().at('cloud')
      .sink(stdoutSink());
  `);
  t.is((await tributary(['submit', bad, '--master', c.master.httpUrl])).code, 0);
  const failed = await until('bad-app error reported', async () => {
    const { body } = await api(c.master.httpUrl, '/apps/bad-app');
    return body?.error ? body : undefined;
  });
  t.regex(failed.error, /TRIB_ERR_TASK_FAILED.*sensor decoder exploded/);

  const { body: nodes } = await api(c.master.httpUrl, '/nodes');
  t.true(nodes.every((n: { online: boolean }) => n.online), 'every node is still up');
  const good = firstResultFrom(c.master.brokerUrl, 'after-bad', 'dev-1');
  t.is((await tributary(['submit', 'examples/plant-monitor.ts', '--master', c.master.httpUrl, ...live('after-bad')])).code, 0);
  t.is((await good).device, 'dev-1');
});
