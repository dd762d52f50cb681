import test from 'ava';
import { existsSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { api, startMaster, until, waitForNodesOnline } from './helpers/cluster.js';
import { tributary } from './helpers/cli.js';
import { tempDir } from './helpers/tmp.js';
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

test('--version names the embedded Node LTS; --help lists exactly the options of `tributary agent`', async (t) => {
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
  t.regex(missingId.stderr, /required option '--id <device-id>'/);
});

test('x64: with no node on PATH, it takes flags, config file and environment, registers, and stops on SIGTERM', async (t) => {
  t.false(existsSync(join(pathWithoutNode(), 'node')));
  const dir = await tempDir();
  t.teardown(dir.cleanup);
  const master = await startMaster(join(dir.path, 'master'));
  t.teardown(() => master.proc.stop());
  const config = join(dir.path, 'agent.json');
  await writeFile(config, JSON.stringify({ labels: { site: 'plant-1' }, slots: 9 }));
  const agent = spawnAgentBinary('dev-x64', 'linux-x64', ['--id', 'dev-x64', '--master', master.brokerUrl, '--data', join(dir.path, 'dev-x64'), '--config', config], {
    TRIBUTARY_SLOTS: '3', // the environment overrides the file
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

test('arm64 under qemu-user: it registers with the master and stops on SIGTERM', async (t) => {
  const version = await runAgentBinary('linux-arm64', ['--version'], sysroot);
  t.regex(version.stdout, /linux-arm64\)$/m);
  const dir = await tempDir();
  t.teardown(dir.cleanup);
  const master = await startMaster(join(dir.path, 'master'));
  t.teardown(() => master.proc.stop());
  const agent = spawnAgentBinary('dev-arm64', 'linux-arm64', ['--id', 'dev-arm64', '--master', master.brokerUrl, '--data', join(dir.path, 'dev-arm64'), '--label', 'arch=arm64'], {}, sysroot);
  t.teardown(() => agent.stop('SIGKILL'));
  await agent.waitFor((l) => l.msg === 'agent started', 'agent started');
  await waitForNodesOnline(master.httpUrl, ['dev-arm64']);
  t.deepEqual((await api(master.httpUrl, '/nodes/dev-arm64')).body.labels, { arch: 'arm64' });
  t.is(await agent.stop('SIGTERM'), 0);
});
