import test from 'ava';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { cborDecoder, type NodeHeartbeat } from '@tributary/shared';
import { startEmbeddedBroker, type EmbeddedBroker } from '../cloud-core/src/broker/embedded-broker.js';
import { expectedPlantWindows, plantKey, type PlantWindow } from '../chaos/reference.js';
import { api, startMaster, startNode, until, waitForNodesOnline, type Proc } from './helpers/cluster.js';
import { nodeMasterArgs } from '../cli/src/launcher.js';
import { AGENTS, compareWithReference, readLines, submitPlantMonitor, untilFinished, type PlantCluster } from './helpers/plant-cluster.js';
import { tributary } from './helpers/cli.js';
import { tempDir } from './helpers/tmp.js';
import { startEnrolmentServer } from './helpers/enrolment-server.js';
import {
  arm64Sysroot, binaryPath, buildAgentBinaries, bundleMetaPath, pathWithoutNode, runAgentBinary, spawnAgentBinary,
} from './helpers/agent-binary.js';

/**
 * The edge agent as a single binary (deploy/build-agent.mjs): built for x64 and arm64, run as a
 * device runs it (no node on PATH; arm64 under qemu-user with a Debian arm64 sysroot), registering
 * with a real master (`tributary master`, compiled by `npm run build`).
 */
let sysroot = '';
test.before(async () => {
  // Unchanged inputs are not rebuilt: after the first run this costs a bundle.
  await Promise.all([buildAgentBinaries(['linux-x64', 'linux-arm64']), arm64Sysroot().then((s) => (sysroot = s))]);
});

test("the binary's JavaScript holds the agent and nothing of cloud-core, the dashboard or the CLI", (t) => {
  const inputs = Object.keys((JSON.parse(readFileSync(bundleMetaPath, 'utf8')) as { inputs: Record<string, unknown> }).inputs);
  t.true(inputs.includes('edge-agent/src/bin.ts'));
  t.true(inputs.includes('shared/src/node/node-agent.ts'), 'the node host is in');
  const forbidden = inputs.filter((f) => /^(cloud-core|cli|simulators)\/|dashboard|node_modules\/(fastify|aedes|@fastify|esbuild|tsx)\//.test(f));
  t.deepEqual(forbidden, []);
  // Native and optional parts are replaced (sea-stub) or loaded from an asset, never from disk.
  t.true(inputs.includes('sea-stub:cbor-extract'));
  t.false(inputs.some((f) => f.includes('node-gyp-build')), 'no addon looked up in node_modules');
});

test('--version names the embedded Node LTS; --help lists exactly the options of `tributary agent`; --isolation thread is refused', async (t) => {
  const version = await runAgentBinary('linux-x64', ['--version']);
  t.is(version.code, 0);
  const pinned = (JSON.parse(readFileSync('deploy/node-binaries.json', 'utf8')) as { version: string }).version;
  t.is(version.stdout.trim(), `0.1.0 (node v${pinned}, linux-x64)`);
  const options = (help: string) => help.slice(help.indexOf('Options:')).split('\n').filter((l) => !l.includes('--version'));
  const binHelp = await runAgentBinary('linux-x64', ['--help']);
  const cliHelp = await tributary(['agent', '--help']);
  t.is(binHelp.code, 0);
  t.deepEqual(options(binHelp.stdout), options(cliHelp.stdout));
  const missingId = await runAgentBinary('linux-x64', []);
  t.is(missingId.code, 1);
  t.regex(missingId.stderr, /error \[TRIB_ERR_CONFIG_INVALID\]: invalid configuration: id \(default\)/);
  // No thread entry inside the binary: applications run inline, and asking for threads is refused.
  const threads = await runAgentBinary('linux-x64', ['--id', 'dev-t', '--isolation', 'thread', '--master', 'mqtt://127.0.0.1:1']);
  t.is(threads.code, 1);
  t.regex(threads.stderr, /error \[TRIB_ERR_CONFIG_INVALID\]: isolation=thread/);
});

test.serial('x64: with no node on PATH, it takes flags, config file and environment, registers, and stops on SIGTERM', async (t) => {
  t.false(existsSync(join(pathWithoutNode(), 'node')));
  const dir = await tempDir();
  t.teardown(dir.cleanup);
  const master = await startMaster(join(dir.path, 'master'));
  t.teardown(() => master.proc.stop());
  const config = join(dir.path, 'agent.json');
  await writeFile(config, JSON.stringify({ labels: { site: 'plant-1' }, slots: 9 }));
  const agent = spawnAgentBinary('dev-x64', 'linux-x64', ['--id', 'dev-x64', ...(await nodeMasterArgs('agent', 'dev-x64', master.brokerUrl, join(dir.path, 'dev-x64'))), '--data', join(dir.path, 'dev-x64'), '--config', config], {
    env: { TRIBUTARY_SLOTS: '3' }, // the environment overrides the file
  });
  t.teardown(() => agent.stop('SIGKILL'));
  const started = await agent.waitFor((l) => l.msg === 'agent started', 'agent started');
  t.deepEqual(started.labels, { site: 'plant-1' });
  await waitForNodesOnline(master.httpUrl, ['dev-x64']);
  const node = (await api(master.httpUrl, '/nodes/dev-x64')).body as { kind: string; labels: Record<string, string>; slots: number };
  t.is(node.kind, 'agent');
  t.deepEqual(node.labels, { site: 'plant-1' });
  t.is(node.slots, 3);
  t.is(await agent.stop('SIGTERM'), 0);
  t.truthy(agent.lines.find((l) => l.msg === 'agent stopped'));
  await until('dev-x64 offline', async () => ((await api(master.httpUrl, '/nodes/dev-x64')).body?.online === false ? true : undefined));
});

test.serial('x64: it enrols over http with --token (own key pair, PKCS#10) and connects by TLS with its client certificate', async (t) => {
  const server = await startEnrolmentServer({ broker: true });
  const dir = await tempDir();
  t.teardown(async () => { await server.close(); await dir.cleanup(); });
  const agent = spawnAgentBinary('dev-enrol', 'linux-x64', ['--id', 'dev-enrol', '--master', server.url, '--data', join(dir.path, 'dev-enrol')], {
    env: { TRIBUTARY_ENROL_TOKEN: server.addDevice('dev-enrol') },
  });
  t.teardown(() => agent.stop('SIGKILL'));
  t.is((await agent.waitFor((l) => l.msg === 'agent started', 'agent started')).broker, server.brokerUrl!);
  t.is(server.issued.enrol, 1);
  t.truthy(server.connections.find((c) => c.id === 'dev-enrol' && c.serial !== undefined), 'admitted by its certificate');
});

test.serial('arm64 under qemu-user: it registers with the master and stops on SIGTERM', async (t) => {
  const version = await runAgentBinary('linux-arm64', ['--version'], sysroot);
  t.regex(version.stdout, /linux-arm64\)$/m);
  const dir = await tempDir();
  t.teardown(dir.cleanup);
  const master = await startMaster(join(dir.path, 'master'));
  t.teardown(() => master.proc.stop());
  const agent = spawnAgentBinary('dev-arm64', 'linux-arm64', ['--id', 'dev-arm64', ...(await nodeMasterArgs('agent', 'dev-arm64', master.brokerUrl, join(dir.path, 'dev-arm64'))), '--data', join(dir.path, 'dev-arm64'), '--label', 'arch=arm64'], { sysroot });
  t.teardown(() => agent.stop('SIGKILL'));
  await agent.waitFor((l) => l.msg === 'agent started', 'agent started');
  await waitForNodesOnline(master.httpUrl, ['dev-arm64']);
  t.deepEqual((await api(master.httpUrl, '/nodes/dev-arm64')).body.labels, { arch: 'arm64' });
  t.is(await agent.stop('SIGTERM'), 0);
});

/** Files under `dir`, recursively (relative paths). */
function filesUnder(dir: string): string[] {
  return existsSync(dir) ? readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name).slice(dir.length + 1)) : [];
}

/** LevelDB wrote its files: the replay log of an application's edge source opened on disk. */
const replayLogOnDisk = (agentData: string) => filesUnder(join(agentData, 'replay')).some((f) => f.endsWith('CURRENT'));

/** The addon the binary wrote for LevelDB: <data>/.native/<content hash>/classic-level.node. */
const addonOnDisk = (agentData: string) => filesUnder(join(agentData, '.native')).filter((f) => f.endsWith('/classic-level.node'));

/** A cluster of CLI master and workers with agents that are the binary. */
async function binaryCluster(t: import('ava').ExecutionContext, brokerUrl: string, agents: { id: string; start: (data: string) => Proc }[], workers: string[]) {
  const dir = await tempDir();
  t.teardown(dir.cleanup);
  const master = await startMaster(join(dir.path, 'master'), ['--broker', brokerUrl]);
  const nodes = new Map<string, Proc>();
  t.teardown(async () => {
    await Promise.all([...nodes.values()].map((n) => n.stop()));
    await master.proc.stop();
  });
  await Promise.all(workers.map(async (id) => nodes.set(id, await startNode('worker', id, brokerUrl, dir.path))));
  for (const a of agents) nodes.set(a.id, a.start(join(dir.path, a.id)));
  await Promise.all(agents.map((a) => nodes.get(a.id)!.waitFor((l) => l.msg === 'agent started', `${a.id} started`)));
  await waitForNodesOnline(master.httpUrl, [...workers, ...agents.map((a) => a.id)]);
  return { master, dir: dir.path, nodes } satisfies PlantCluster;
}

test.serial('x64: binary agents run plant-monitor inline, keep producing into their replay logs while the broker is away, and the results are exact', async (t) => {
  // Records every heartbeat's replay-log backlog as the broker forwards it to the master.
  const backlog = new Map<string, number>();
  const forward = (topic: string, _client: string, payload: Buffer): boolean => {
    const m = /^trib\/(dev-\d)\/hb$/.exec(topic);
    if (m) backlog.set(m[1], Math.max(backlog.get(m[1]) ?? 0, (cborDecoder.decode(payload) as NodeHeartbeat).replayLog?.backlogRecords ?? 0));
    return true;
  };
  let broker: EmbeddedBroker = await startEmbeddedBroker({ port: 0, forward });
  t.teardown(() => broker.close());
  const agents = AGENTS.map((id) => ({ id, start: (data: string) => spawnAgentBinary(id, 'linux-x64', ['--id', id, '--master', broker.url, '--data', data]) }));
  const c = await binaryCluster(t, broker.url, agents, ['w-1', 'w-2']);
  // Paced readings (they follow the wall clock): 20 s per sensor, one every 20 ms, 1 s windows.
  const output = join(c.dir, 'windows.jsonl');
  const p = { count: '1000', startTs: '0', intervalMs: '20', windowMs: '1000', seed: '7', paced: 'true', speed: '1', output };
  await submitPlantMonitor(c, p);
  await until('results up to 3 s from both agents', async () => {
    const lines = await readLines<PlantWindow>(output);
    return AGENTS.every((d) => lines.some((w) => w.device === d && w.windowEnd >= 3000)) ? true : undefined;
  }, 600);
  for (const id of AGENTS) {
    t.true(replayLogOnDisk(join(c.dir, id)), `${id}: its replay log is on disk`);
    t.is(addonOnDisk(join(c.dir, id)).length, 1, `${id}: LevelDB's addon written under its data dir`);
  }
  t.is(c.nodes.get('dev-1')!.lines.find((l) => l.msg === 'application running')?.app, 'plant-monitor', 'the app runs inside the binary');

  await broker.close();
  backlog.clear();
  // The outage itself: a fixed 8 s, during which nothing can be observed over MQTT.
  await delay(8000);
  broker = await startEmbeddedBroker({ port: broker.port, forward });

  await untilFinished(c);
  await compareWithReference(t, output, p);
  t.deepEqual(await readLines(`${output}.late`), [], 'no record arrived behind the clock');
  // Heartbeats queued during the outage show what each agent kept on disk meanwhile (~100 readings/s).
  t.log(`largest replay-log backlog in the heartbeats since the outage began: ${AGENTS.map((id) => `${id} ${backlog.get(id)}`).join(', ')}`);
  for (const id of AGENTS) t.true((backlog.get(id) ?? 0) >= 500, `${id} kept producing into its replay log (backlog ${backlog.get(id)})`);
});

test.serial('arm64 under qemu-user: a bounded plant-monitor run with its edge part on the arm64 binary, replay log on disk, results exact', async (t) => {
  const broker = await startEmbeddedBroker({ port: 0 });
  t.teardown(() => broker.close());
  const id = 'dev-arm64';
  const c = await binaryCluster(t, broker.url, [{ id, start: (data) => spawnAgentBinary(id, 'linux-arm64', ['--id', id, '--master', broker.url, '--data', data], { sysroot }) }], ['w-1']);
  const output = join(c.dir, 'windows.jsonl');
  const p = { count: '300', startTs: '0', intervalMs: '20', windowMs: '1000', seed: '7', output };
  await submitPlantMonitor(c, p);
  await untilFinished(c);
  const lines = await readLines<PlantWindow>(output);
  const expected = await expectedPlantWindows([id], p);
  t.is(lines.length, expected.size, 'no result lost');
  for (const w of lines) t.deepEqual(w, expected.get(plantKey(w)), `window ${plantKey(w)}`);
  t.true(replayLogOnDisk(join(c.dir, id)), 'its replay log is on disk');
  t.deepEqual(addonOnDisk(join(c.dir, id)).length, 1, "LevelDB's arm64 addon written under its data dir");
});
