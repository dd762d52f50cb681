/**
 * Application bundles carry only the application: `tributary` is supplied by the hosting process,
 * the bundle records the API version it was built against, and a node refuses one it cannot host.
 * An error an application throws keeps its code all the way to the master's API.
 */
import test from 'ava';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { API_VERSION, ErrorCodes, Params, Pipeline, bundleApiVersion, evaluateBundle, planToJSON, resolveApp } from '@tributary/shared';
import { bundleApp } from '../cli/src/bundle.js';
import { api, startMaster, startNode, until, waitForNodesOnline } from './helpers/cluster.js';
import { repoRoot, tributary } from './helpers/cli.js';
import { tempDir } from './helpers/tmp.js';

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

test('plant-monitor bundles to a few KB: its own code, the API left to the host', async (t) => {
  const bundle = await bundleApp(join(repoRoot, 'examples/plant-monitor.ts'));
  t.true(bundle.length < 50 * 1024, `${bundle.length} bytes`);
  const code = text(bundle);
  t.is(bundleApiVersion(code), API_VERSION);
  t.regex(code, /require\("tributary"\)/);
  t.notRegex(code, /MqttClient|classic-level|pino/, 'no MQTT client, LevelDB or logger inside');
});

test("a bundle runs against the host's API: its pipeline is the host's class", async (t) => {
  const file = join(repoRoot, 'examples/plant-monitor.ts');
  const exported = evaluateBundle(text(await bundleApp(file)), file);
  const def = typeof exported === 'function' ? (exported as (p: Params) => unknown)(new Params({})) : exported;
  t.true(def instanceof Pipeline);
  const graph = await resolveApp(exported, new Params({}), 'plant-monitor');
  t.is(graph.name, 'plant-monitor');
});

test('a bundle built against another API major, a newer minor, or without a header is refused before it runs', (t) => {
  const [major, minor] = API_VERSION.split('.').map(Number);
  const body = 'globalThis.__ranBundle = true; module.exports = { default: 1 };';
  for (const version of [`${major + 1}.0.0`, `${major}.${minor + 1}.0`]) {
    const err = t.throws(() => evaluateBundle(`/*! tributary-bundle api=${version} */\n${body}`, '/x/app.js'));
    t.is((err as { code?: string }).code, ErrorCodes.API_VERSION);
    t.regex(err!.message, new RegExp(`built against tributary API ${version.replaceAll('.', '\\.')}`));
  }
  const plain = t.throws(() => evaluateBundle(body, '/x/plain.js'));
  t.is((plain as { code?: string }).code, ErrorCodes.APP_INVALID);
  t.is((globalThis as { __ranBundle?: boolean }).__ranBundle, undefined, 'no code of a refused bundle ran');
});

test.serial("an application's TributaryError keeps its code on the master's API; a bundle for another API is refused there too", async (t) => {
  const dir = await tempDir();
  t.teardown(dir.cleanup);
  const master = await startMaster(join(dir.path, 'master'));
  const nodes = [await startNode('worker', 'w-1', master.brokerUrl, dir.path), await startNode('agent', 'dev-1', master.brokerUrl, dir.path)];
  t.teardown(async () => {
    await Promise.all(nodes.map((n) => n.stop()));
    await master.proc.stop();
  });
  await waitForNodesOnline(master.httpUrl, ['w-1', 'dev-1']);

  await mkdir(join(repoRoot, 'test-output'), { recursive: true });
  const appDir = await mkdtemp(join(repoRoot, 'test-output', 'coded-'));
  t.teardown(() => rm(appDir, { recursive: true, force: true }));
  const app = join(appDir, 'coded.mts');
  await writeFile(app, `
    import { ErrorCodes, TributaryError, pipeline, simulatedSensors, stdoutSink } from 'tributary';
    export default pipeline('coded-failure')
      .source(simulatedSensors({ count: 100, intervalMs: 1 })).at('edge')
      .map((r) => { if (r.ts > 0) throw new TributaryError(ErrorCodes.SOURCE_FAILED, 'gauge went offline'); return r; })
      .rebalance().at('cloud')
      .sink(stdoutSink());
  `);
  const submitted = await tributary(['submit', app, '--master', master.httpUrl]);
  t.is(submitted.code, 0, submitted.stderr);
  const failed = await until('coded-failure error reported', async () => {
    const { body } = await api(master.httpUrl, '/apps/coded-failure');
    return body?.error ? body : undefined;
  });
  t.regex(failed.error, /TRIB_ERR_SOURCE_FAILED.*gauge went offline/);

  // The same plan, with a bundle that says it was built against the next API major: the master
  // plans every bundle itself (in a worker thread), so it refuses it at submission; nothing is placed.
  const bundle = text(await bundleApp(join(repoRoot, 'examples/plant-monitor.ts')));
  const [major] = API_VERSION.split('.').map(Number);
  const future = bundle.replace(`api=${API_VERSION}`, `api=${major + 1}.0.0`);
  const graph = await resolveApp(evaluateBundle(bundle, 'plant-monitor.js'), new Params({}), 'plant-monitor');
  const res = await api(master.httpUrl, '/apps', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ plan: planToJSON(graph), params: {}, bundle: Buffer.from(future).toString('base64') }),
  });
  t.is(res.status, 409, JSON.stringify(res.body));
  t.is(res.body.code, ErrorCodes.API_VERSION);
  t.regex(res.body.error, /built against tributary API/);
  t.is((await api(master.httpUrl, '/apps/plant-monitor')).status, 404, 'nothing of the refused submission was placed');
  const { body: online } = await api(master.httpUrl, '/nodes');
  t.true(online.every((n: { online: boolean }) => n.online), 'every node is still up');
});
