/**
 * Signed bundles (issue 13): the master signs every bundle it stores, nodes verify signature and
 * sha256 before evaluating anything, and refuse loudly otherwise; the master plans each bundle
 * itself instead of trusting the client's plan. Real master and agent processes throughout; the
 * "code ran" evidence is a marker file the application's top level writes when evaluated.
 */
import test, { type ExecutionContext } from 'ava';
import { generateKeyPairSync } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { access, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { Params, cborEncoder, planToJSON, resolveApp, evaluateBundle, sha256, topics, type NodeDesiredState } from '@tributary/shared';
import { bundleApp } from '../cli/src/bundle.js';
import { launchNode, nodeMasterArgs } from '../cli/src/launcher.js';
import { api, startMaster, until, waitForNodesOnline, type Proc, type RunningMaster } from './helpers/cluster.js';
import { repoRoot, tributary } from './helpers/cli.js';
import { tempDir } from './helpers/tmp.js';
import { parsePromText } from './helpers/prom-text.js';

const MARKER_ENV = 'TRIB_TEST_MARKER_DIR';

/**
 * The application: its top level writes `<marker dir>/ran` when the process evaluating it has the
 * marker directory in its environment. Only the test's agents have it (the master plans bundles
 * in a thread with an empty environment; the CLI that bundles it runs without it).
 */
const APP = `
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pipeline, simulatedSensors, stdoutSink } from 'tributary';
const dir = process.env.${MARKER_ENV};
if (dir) writeFileSync(join(dir, 'ran'), String(process.pid));
export default (params) => pipeline(params.string('name', 'signed-app'))
  .source(simulatedSensors({ count: 5, intervalMs: 1 })).at('edge', { site: params.string('site', 'a') })
  .sink(stdoutSink());
`;

interface Cluster {
  dir: string;
  master: RunningMaster;
  app: string;
  nodes: Proc[];
}

async function cluster(t: ExecutionContext, masterArgs: string[] = []): Promise<Cluster> {
  const dir = await tempDir();
  t.teardown(dir.cleanup);
  await mkdir(join(repoRoot, 'test-output'), { recursive: true });
  const appDir = await mkdtemp(join(repoRoot, 'test-output', 'signed-'));
  t.teardown(() => rm(appDir, { recursive: true, force: true }));
  const app = join(appDir, 'signed-app.mts');
  await writeFile(app, APP);
  const master = await startMaster(join(dir.path, 'master'), masterArgs);
  const c: Cluster = { dir: dir.path, master, app, nodes: [] };
  t.teardown(async () => {
    await Promise.all(c.nodes.map((n) => n.stop()));
    await master.proc.stop();
  });
  return c;
}

/** An agent with its own marker directory; `extra` flags (e.g. --master-key). */
async function agent(c: Cluster, id: string, site: string, extra: string[] = []): Promise<{ proc: Proc; markers: string }> {
  const markers = join(c.dir, `markers-${id}`);
  await mkdir(markers, { recursive: true });
  const proc = await launchNode('agent', id, [...(await nodeMasterArgs('agent', id, c.master.brokerUrl, join(c.dir, id))), '--data', join(c.dir, id), '--label', `site=${site}`, ...extra], { [MARKER_ENV]: markers });
  c.nodes.push(proc);
  return { proc, markers };
}

const exists = (path: string) => access(path).then(() => true, () => false);

async function nodeView(c: Cluster, id: string): Promise<{ bundleRejected?: Record<string, number> } | undefined> {
  const { body } = await api(c.master.httpUrl, '/nodes');
  return (body as { id: string; bundleRejected?: Record<string, number> }[]).find((n) => n.id === id);
}

test.serial('a correctly signed bundle runs; a bundle signed by another key is refused unevaluated, logged, counted, reported failed', async (t) => {
  const c = await cluster(t);
  const good = await agent(c, 'dev-1', 'good');
  // dev-2 trusts another key: the master's genuine signature is foreign to it.
  const other = generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }) as string;
  const otherKey = join(c.dir, 'other-signing.pub');
  await writeFile(otherKey, other);
  const bad = await agent(c, 'dev-2', 'bad', ['--master-key', otherKey]);
  await waitForNodesOnline(c.master.httpUrl, ['dev-1', 'dev-2']);

  const ok = await tributary(['submit', c.app, '--master', c.master.httpUrl, '--param', 'name=on-good', '--param', 'site=good']);
  t.is(ok.code, 0, ok.stderr);
  const finished = await until('on-good finished', async () => {
    const { body } = await api(c.master.httpUrl, '/apps/on-good');
    return body?.state === 'finished' ? body : undefined;
  });
  t.is(finished.nodes['dev-1'].state, 'finished');
  t.true(await exists(join(good.markers, 'ran')), 'the signed bundle was evaluated on dev-1');
  // No key configured, not enrolled: dev-1 trusted the master's key on first use, said so, kept it.
  const tofu = await good.proc.waitFor((l) => l.event === 'master-key-trusted-on-first-use', 'trust-on-first-use warning');
  t.is(tofu.level, 40);
  t.is(await readFile(join(c.dir, 'dev-1', 'identity', 'master-signing.pub'), 'utf8'), await readFile(join(c.dir, 'master', 'pki', 'signing.pub'), 'utf8'));

  const refused = await tributary(['submit', c.app, '--master', c.master.httpUrl, '--param', 'name=on-bad', '--param', 'site=bad']);
  t.is(refused.code, 0, refused.stderr);
  const line = await bad.proc.waitFor((l) => l.event === 'bundle-rejected', 'bundle-rejected log line');
  t.is(line.level, 50);
  t.is(line.app, 'on-bad');
  t.is(line.reason, 'signature');
  const failed = await until('on-bad reported failed on dev-2', async () => {
    const { body } = await api(c.master.httpUrl, '/apps/on-bad');
    return body?.nodes?.['dev-2']?.state === 'failed' ? body : undefined;
  });
  t.regex(failed.nodes['dev-2'].error, /TRIB_ERR_BUNDLE_SIGNATURE_INVALID/);
  const view = await until('dev-2 counts the refusal', async () => {
    const n = await nodeView(c, 'dev-2');
    return (n?.bundleRejected?.signature ?? 0) >= 1 ? n : undefined;
  });
  t.true(view.bundleRejected!.signature >= 1);
  const metrics = await (await fetch(`${c.master.httpUrl}/metrics`)).text();
  const sample = parsePromText(metrics).samples.find((x) => x.name === 'tributary_bundle_rejected_total' && x.labels.node === 'dev-2' && x.labels.reason === 'signature');
  t.true((sample?.value ?? 0) >= 1, metrics);
  t.deepEqual(await readdir(bad.markers), [], 'nothing of the refused bundle was evaluated on dev-2');
  t.false(await exists(join(c.dir, 'dev-2', 'bundles')), 'a bundle with a foreign signature is not even downloaded');
});

/**
 * A man in the middle of the bundle download: the master's public URL points at this proxy, which
 * passes everything through but serves other bytes for every bundle (the original plus code
 * writing a marker).
 */
async function tamperingProxy(t: ExecutionContext): Promise<{ url: string; setTarget(url: string): void; tamper(bytes: Buffer): Buffer; extra: Map<string, Buffer> }> {
  let target = '';
  const extra = new Map<string, Buffer>();
  const tamper = (bytes: Buffer) => Buffer.concat([bytes, Buffer.from(`\n;require('node:fs').writeFileSync(require('node:path').join(process.env.${MARKER_ENV}, 'tampered'), 'x');\n`)]);
  const server: Server = createServer((req, res) => {
    void (async () => {
      const path = req.url ?? '/';
      const planted = extra.get(path);
      if (planted) return void res.writeHead(200, { 'content-type': 'text/javascript' }).end(planted);
      const upstream = await fetch(new URL(path, target));
      const body = Buffer.from(await upstream.arrayBuffer());
      res.writeHead(upstream.status, { 'content-type': upstream.headers.get('content-type') ?? 'application/octet-stream' });
      res.end(path.startsWith('/bundles/') && upstream.ok ? tamper(body) : body);
    })().catch(() => res.writeHead(502).end());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const addr = server.address() as { port: number };
  return { url: `http://127.0.0.1:${addr.port}`, setTarget: (u) => (target = u), tamper, extra };
}

test.serial('a tampered bundle is refused before any of it runs: substituted bytes (sha256), a forged desired state with a signature of other bytes, or none', async (t) => {
  const proxy = await tamperingProxy(t);
  // The broker is opened to anonymous clients here, as a compromised or misconfigured broker
  // would be: the forger reaches the node, whose signature check is then the last line.
  const c = await cluster(t, ['--public-url', proxy.url, '--allow-anonymous-mqtt', 'on']);
  proxy.setTarget(c.master.httpUrl);
  const dev = await agent(c, 'dev-1', 'a');
  await waitForNodesOnline(c.master.httpUrl, ['dev-1']);

  // 1. Honest desired state, bytes changed on the way: the digest does not match.
  const submitted = await tributary(['submit', c.app, '--master', c.master.httpUrl]);
  t.is(submitted.code, 0, submitted.stderr);
  const first = await dev.proc.waitFor((l) => l.event === 'bundle-rejected', 'substituted bundle refused');
  t.is(first.app, 'signed-app');
  t.is(first.reason, 'sha256');
  const { body: app } = await api(c.master.httpUrl, '/apps/signed-app');
  t.regex(app.bundleSignature, /^[A-Za-z0-9+/]{86}==$/, 'the master stored an Ed25519 signature (base64)');

  // 2. Whoever can publish a desired state and serve bytes, but has not the master's key: a
  //    consistent digest of evil bytes, with the master's real signature (of the other digest).
  const evil = proxy.tamper(Buffer.from(await bundleApp(c.app)));
  const evilSha = sha256(evil);
  proxy.extra.set(`/bundles/${evilSha}`, evil);
  const forged = (app: string, signature?: string): NodeDesiredState => ({
    node: 'dev-1',
    apps: [{ app, epoch: 1, version: 1, params: {}, tasks: [{ processor: 0, index: 0, node: 'dev-1' }], bundle: { sha256: evilSha, url: `${proxy.url}/bundles/${evilSha}`, ...(signature ? { signature } : {}) } }],
  });
  const client = await mqtt.connectAsync(c.master.brokerUrl, { protocolVersion: 4, clientId: 'forger' });
  t.teardown(() => client.endAsync());
  await client.publishAsync(topics.control('dev-1'), Buffer.from(cborEncoder.encode(forged('forged-signed', app.bundleSignature))), { qos: 1, retain: true });
  const second = await dev.proc.waitFor((l) => l.event === 'bundle-rejected' && l.app === 'forged-signed', 'forged signature refused');
  t.is(second.reason, 'signature');
  await client.publishAsync(topics.control('dev-1'), Buffer.from(cborEncoder.encode(forged('forged-unsigned'))), { qos: 1, retain: true });
  const third = await dev.proc.waitFor((l) => l.event === 'bundle-rejected' && l.app === 'forged-unsigned', 'unsigned bundle refused');
  t.is(third.reason, 'unsigned');

  const counted = await until('all three counted', async () => {
    const n = await nodeView(c, 'dev-1');
    const r = n?.bundleRejected ?? {};
    return (r.sha256 ?? 0) >= 1 && (r.signature ?? 0) >= 1 && (r.unsigned ?? 0) >= 1 ? r : undefined;
  });
  t.truthy(counted);
  t.deepEqual(await readdir(dev.markers), [], 'no code of any refused bundle ran');
});

test.serial('the master plans the bundle itself: a plan that does not match its bundle is refused, none is fine, a bundle that outgrows the limits is refused', async (t) => {
  const c = await cluster(t, ['--plan-timeout-ms', '2000', '--plan-heap-mb', '32']);
  const bundle = Buffer.from(await bundleApp(c.app));
  const plan = planToJSON(await resolveApp(evaluateBundle(bundle.toString(), 'signed-app.js'), new Params({}), 'signed-app'));
  const post = (body: unknown) => api(c.master.httpUrl, '/apps', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

  const lying = { ...plan, processors: plan.processors.map((p) => ({ ...p, placement: { where: 'cloud' } })) };
  const refused = await post({ plan: lying, params: {}, bundle: bundle.toString('base64') });
  t.is(refused.status, 409);
  t.is(refused.body.code, 'TRIB_ERR_PLAN_MISMATCH');
  t.is((await api(c.master.httpUrl, '/apps/signed-app')).status, 404, 'nothing placed');
  const renamed = await post({ plan: { ...plan, app: 'other-name' }, params: {}, bundle: bundle.toString('base64') });
  t.is(renamed.body.code, 'TRIB_ERR_PLAN_MISMATCH', 'the application name is the bundle\'s too');

  const planless = await post({ params: {}, bundle: bundle.toString('base64') });
  t.is(planless.status, 201, JSON.stringify(planless.body));
  const { body: stored } = await api(c.master.httpUrl, '/apps/signed-app/plan');
  t.deepEqual(stored.logical, JSON.parse(JSON.stringify(plan)), 'the plan the master derived');
  const matching = await post({ plan, params: { name: 'again' }, bundle: bundle.toString('base64') });
  t.is(matching.body.code, 'TRIB_ERR_PLAN_MISMATCH', 'params change the plan (name): the client plan of other params does not match');

  const header = bundle.toString().split('\n')[0];
  const loops = Buffer.from(`${header}\nwhile (true) {}\n`);
  const slow = await post({ params: {}, bundle: loops.toString('base64') });
  t.is(slow.body.code, 'TRIB_ERR_PLAN_MISMATCH');
  t.regex(slow.body.error, /longer than 2000 ms/);
  const hog = Buffer.from(`${header}\nconst keep = []; while (true) keep.push(new Array(1e5).fill(Math.random()));\n`);
  const big = await post({ params: {}, bundle: hog.toString('base64') });
  t.is(big.body.code, 'TRIB_ERR_PLAN_MISMATCH');
  t.regex(big.body.error, /more than 32 MB/);
  const { body: health } = await api(c.master.httpUrl, '/health');
  t.deepEqual(health, { ok: true }, 'the master is still up');
});

test('a node given a master key it cannot use refuses to start, naming the setting', async (t) => {
  const dir = await tempDir();
  t.teardown(dir.cleanup);
  const notAKey = join(dir.path, 'not-a-key.pem');
  await writeFile(notAKey, 'hello\n');
  for (const file of [join(dir.path, 'missing.pub'), notAKey]) {
    const r = await tributary(['agent', '--id', 'dev-9', '--master', 'mqtt://127.0.0.1:1', '--data', join(dir.path, 'dev-9'), '--master-key', file]);
    t.is(r.code, 1);
    t.regex(r.stderr, /TRIB_ERR_CONFIG_INVALID.*masterKey/);
  }
});
