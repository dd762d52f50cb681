/**
 * Admin access to the master (issue 13, item 4), with real processes: a master (compiled CLI) with
 * a worker and an agent. Without a valid admin token the REST API refuses (401, logged, counted)
 * and no application code runs on any node; with it, it does. Tokens are listed without secrets,
 * created and revoked; the dashboard's login form sets a session cookie; `/metrics` is open unless
 * `--metrics-auth`; the first start prints a token that is stored only as a hash.
 */
import test from 'ava';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ErrorCodes, Params, planToJSON } from '@tributary/shared';
import { bundleAndPlan } from '../cli/src/bundle.js';
import { spawnNode, type LogLine } from '../cli/src/launcher.js';
import { api, startMaster, startNode, until, waitForNodesOnline, type Proc, type RunningMaster } from './helpers/cluster.js';
import { repoRoot, tributary } from './helpers/cli.js';
import { parsePromText } from './helpers/prom-text.js';
import { tempDir } from './helpers/tmp.js';

let master: RunningMaster;
let worker: Proc;
let agent: Proc;
let appDir: string;
let cleanup: () => Promise<void> = async () => {};

test.before(async () => {
  const dir = await tempDir();
  master = await startMaster(join(dir.path, 'master'));
  worker = await startNode('worker', 'w-1', master.brokerUrl, dir.path);
  agent = await startNode('agent', 'dev-1', master.brokerUrl, dir.path);
  await mkdir(join(repoRoot, 'test-output'), { recursive: true });
  appDir = await mkdtemp(join(repoRoot, 'test-output', 'admin-auth-'));
  cleanup = async () => {
    await Promise.all([worker?.stop(), agent?.stop()]);
    await master?.proc.stop();
    await rm(appDir, { recursive: true, force: true });
    await dir.cleanup();
  };
  await waitForNodesOnline(master.httpUrl, ['w-1', 'dev-1']);
});

test.after.always(() => cleanup());

/** Prometheus samples of the master's /metrics, by `name{labels}`. */
async function metric(name: string, labels: Record<string, string>, token?: string): Promise<number> {
  const res = await fetch(new URL('/metrics', master.httpUrl), token ? { headers: { authorization: `Bearer ${token}` } } : {});
  const { samples } = parsePromText(await res.text());
  return samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value ?? 0;
}

/** Master log lines from index `from` on that match. */
const refusals = (from: number, route: string): LogLine[] => master.proc.lines.slice(from).filter((l) => l.msg === 'admin request refused' && l.route === route);

test.serial('a submit without a token or with a wrong one is refused, logged and counted, and no code runs anywhere; with the token it runs', async (t) => {
  // An application whose top level appends the pid of whatever process evaluates it.
  const marker = join(appDir, 'ran.txt');
  const app = join(appDir, 'marker.mts');
  await writeFile(app, `
    import { appendFileSync } from 'node:fs';
    import { pipeline, simulatedSensors, stdoutSink } from 'tributary';
    appendFileSync(${JSON.stringify(marker)}, process.pid + '\\n');
    export default pipeline('marker-app')
      .source(simulatedSensors({ count: 20, intervalMs: 1 })).at('edge')
      .rebalance().at('cloud')
      .sink(stdoutSink());
  `);
  // Planning evaluates the bundle here, in the test process: that pid is not a node's.
  const { bundle, graph } = await bundleAndPlan(app, new Params({}));
  const body = JSON.stringify({ plan: planToJSON(graph), params: {}, bundle: Buffer.from(bundle).toString('base64') });
  const post = (headers: Record<string, string>) => fetch(new URL('/apps', master.httpUrl), { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
  const nodePids = [String(worker.child.pid), String(agent.child.pid)];
  const ranOnNodes = async () => (await readFile(marker, 'utf8').catch(() => '')).split('\n').filter((pid) => nodePids.includes(pid));
  const before = { missing: await metric('tributary_http_unauthorized_total', { reason: 'missing' }), invalid: await metric('tributary_http_unauthorized_total', { reason: 'invalid' }) };
  const logFrom = master.proc.lines.length;

  const none = await post({});
  t.is(none.status, 401);
  t.regex(none.headers.get('www-authenticate') ?? '', /^Bearer/);
  t.is((await none.json()).code, ErrorCodes.AUTH_REQUIRED);
  const wrongToken = 'trb_' + 'x'.repeat(43);
  const wrong = await post({ authorization: `Bearer ${wrongToken}` });
  t.is(wrong.status, 401);
  t.is((await wrong.json()).code, ErrorCodes.AUTH_INVALID);
  // The CLI without a token: the master's code, and a hint where a token goes.
  const cli = await tributary(['submit', app, '--master', master.httpUrl], { TRIBUTARY_TOKEN: '' });
  t.is(cli.code, 1);
  t.regex(cli.stderr, /TRIB_ERR_AUTH_REQUIRED.*--token, TRIBUTARY_TOKEN/);

  // Each refusal is a warn line (ip, route, reason; never the token) and a count.
  const lines = await until('three refusals logged', async () => (refusals(logFrom, 'POST /apps').length >= 3 ? refusals(logFrom, 'POST /apps') : undefined));
  t.deepEqual(lines.map((l) => l.reason).sort(), ['invalid', 'missing', 'missing']);
  for (const l of lines) {
    t.is(l.level, 40);
    t.is(typeof l.ip, 'string');
    t.false(JSON.stringify(l).includes(wrongToken), 'the presented token is not logged');
  }
  t.is(await metric('tributary_http_unauthorized_total', { reason: 'missing' }), before.missing + 2);
  t.is(await metric('tributary_http_unauthorized_total', { reason: 'invalid' }), before.invalid + 1);

  // Nothing was dispatched: both nodes heartbeat twice after the refusals and host no application.
  const refusedAt = Date.now();
  const seen = new Map<string, Set<number>>();
  const nodes = await until('two heartbeats of each node after the refusals', async () => {
    const list = (await api(master.httpUrl, '/nodes')).body as { id: string; lastSeen: number; apps: Record<string, unknown> }[];
    for (const n of list) if (n.lastSeen > refusedAt) seen.set(n.id, (seen.get(n.id) ?? new Set()).add(n.lastSeen));
    return ['w-1', 'dev-1'].every((id) => (seen.get(id)?.size ?? 0) >= 2) ? list : undefined;
  });
  for (const n of nodes) t.deepEqual(n.apps, {}, `${n.id} hosts no application`);
  t.deepEqual((await api(master.httpUrl, '/apps')).body, []);
  t.deepEqual(await ranOnNodes(), [], 'no node evaluated the application');

  // With the token: accepted, and the same code now runs on the agent and on the worker.
  const ok = await post({ authorization: `Bearer ${master.adminToken}` });
  t.is(ok.status, 201, await ok.text());
  const ran = await until('the application evaluated on both nodes', async () => {
    const pids = await ranOnNodes();
    return nodePids.every((p) => pids.includes(p)) ? pids : undefined;
  });
  t.true(ran.length >= 2);
});

test.serial('/healthz is open; /metrics is open by default; everything else is not', async (t) => {
  t.deepEqual((await api(master.httpUrl, '/healthz', undefined, null)).body, { ok: true });
  const metrics = await fetch(new URL('/metrics', master.httpUrl));
  t.is(metrics.status, 200);
  t.regex(await metrics.text(), /tributary_http_unauthorized_total/);
  for (const path of ['/apps', '/nodes', '/snapshot', '/stream', '/events', '/openapi.json', '/tokens', '/app.js', '/no-such-route']) {
    t.is((await api(master.httpUrl, path, undefined, null)).status, 401, path);
  }
});

test.serial('tokens: created (secret shown once), listed without secrets, revoked and then refused; the last one cannot be revoked', async (t) => {
  const created = await api(master.httpUrl, '/tokens', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'ci' }) });
  t.is(created.status, 201);
  t.regex(created.body.token, /^trb_[\w-]{43}$/);
  const second: string = created.body.token;
  t.is((await api(master.httpUrl, '/apps', undefined, second)).status, 200);

  const listed = (await api(master.httpUrl, '/tokens')).body as Record<string, unknown>[];
  t.deepEqual(listed.map((x) => x.name).sort(), ['bootstrap (TRIBUTARY_ADMIN_TOKEN)', 'ci']);
  for (const x of listed) t.deepEqual(Object.keys(x).sort(), ['createdAt', 'id', 'lastUsedAt', 'name'], 'no secret, no hash');
  t.true(typeof listed.find((x) => x.name === 'ci')!.lastUsedAt === 'number', 'its use is recorded');
  t.false(JSON.stringify(listed).includes(second));

  t.is((await api(master.httpUrl, `/tokens/${created.body.id}`, { method: 'DELETE' })).status, 200);
  const refused = await api(master.httpUrl, '/apps', undefined, second);
  t.is(refused.status, 401);
  t.is(refused.body.code, ErrorCodes.AUTH_INVALID);
  t.is((await api(master.httpUrl, '/tokens/bootstrap', { method: 'DELETE' })).status, 409, 'the last token stays');

  // The same through the CLI (token from TRIBUTARY_TOKEN, as the helper passes it).
  const made = await tributary(['tokens', 'create', '--name', 'from-cli', '--json', '--master', master.httpUrl]);
  t.is(made.code, 0, made.stderr);
  const { id, token } = JSON.parse(made.stdout) as { id: string; token: string };
  const list = await tributary(['tokens', 'list', '--master', master.httpUrl, '--token', token]);
  t.is(list.code, 0, list.stderr);
  t.regex(list.stdout, new RegExp(`${id}  from-cli  created `));
  t.false(list.stdout.includes(token));
  t.is((await tributary(['tokens', 'revoke', id, '--master', master.httpUrl])).code, 0);
  const after = await tributary(['apps', '--master', master.httpUrl, '--token', token]);
  t.is(after.code, 1);
  t.regex(after.stderr, /TRIB_ERR_AUTH_INVALID/);
});

test.serial('dashboard: the login form, a session cookie (HttpOnly, SameSite=Strict) that works for the API and the stream, logout', async (t) => {
  const page = await fetch(new URL('/', master.httpUrl));
  t.is(page.status, 200);
  t.regex(await page.text(), /<form method="post" action="\/login"/);

  const form = (token: string) => fetch(new URL('/login', master.httpUrl), {
    method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ token, next: '#/fleet' }).toString(),
  });
  const bad = await form('trb_wrong');
  t.is(bad.status, 401);
  t.is(bad.headers.get('set-cookie'), null);
  t.regex(await bad.text(), /not valid/);

  const good = await form(master.adminToken);
  t.is(good.status, 303);
  t.is(good.headers.get('location'), '/#/fleet');
  const setCookie = good.headers.get('set-cookie') ?? '';
  t.regex(setCookie, /^tributary_session=[\w-]{43}; Path=\/; HttpOnly; SameSite=Strict; Max-Age=\d+/);
  const cookie = setCookie.split(';')[0];

  t.regex(await (await fetch(new URL('/', master.httpUrl), { headers: { cookie } })).text(), /<script src="\/app.js">/, 'the dashboard itself');
  t.is((await api(master.httpUrl, '/apps', { headers: { cookie } }, null)).status, 200);
  const ctl = new AbortController();
  const stream = await fetch(new URL('/stream', master.httpUrl), { headers: { cookie }, signal: ctl.signal });
  t.is(stream.status, 200);
  t.regex(stream.headers.get('content-type') ?? '', /text\/event-stream/);
  ctl.abort();
  t.is((await api(master.httpUrl, '/apps', { headers: { cookie: 'tributary_session=forged' } }, null)).status, 401);

  const out = await fetch(new URL('/logout', master.httpUrl), { method: 'POST', redirect: 'manual', headers: { cookie } });
  t.is(out.status, 303);
  t.regex(out.headers.get('set-cookie') ?? '', /Max-Age=0/);
  t.is((await api(master.httpUrl, '/apps', { headers: { cookie } }, null)).status, 401, 'the session is gone');
});

test('first start: a token is printed once and stored only as its hash; --metrics-auth closes /metrics', async (t) => {
  const dir = await tempDir();
  t.teardown(dir.cleanup);
  const data = join(dir.path, 'master');
  const start = async () => {
    const env = { TRIBUTARY_ADMIN_TOKEN: '' };
    const node = spawnNode('first-start', ['master', '--data', data, '--mqtt-port', '0', '--http-port', '0', '--metrics-auth'], env);
    t.teardown(() => node.stop());
    const started = await node.waitFor((l) => l.msg === 'master started', 'master started');
    return { node, url: String(started.http) };
  };
  const first = await start();
  const created = first.node.lines.find((l) => l.msg === 'admin token created');
  t.truthy(created);
  const token = String(created!.token);
  t.regex(token, /^trb_[\w-]{43}$/);
  t.true(first.node.output.some((o) => o.includes(`Admin token (shown once, keep it): ${token}`)), 'a plain line for the user too');
  t.is((await fetch(new URL('/metrics', first.url))).status, 401);
  t.is((await fetch(new URL('/metrics', first.url), { headers: { authorization: `Bearer ${token}` } })).status, 200);
  t.is(await first.node.stop(), 0);

  // On disk: the hash, never the token.
  const db = join(data, 'master.db');
  const files = await Promise.all((await readdir(db)).map((f) => readFile(join(db, f)).catch(() => Buffer.alloc(0))));
  const { createHash } = await import('node:crypto');
  const digest = createHash('sha256').update(token).digest('hex');
  t.true(files.some((b) => b.includes(digest)), 'the hash is stored');
  t.false(files.some((b) => b.includes(token)), 'the token is not');

  // A restart creates no new token and accepts the old one.
  const second = await start();
  t.is(second.node.lines.filter((l) => l.msg === 'admin token created').length, 0);
  t.is((await fetch(new URL('/apps', second.url), { headers: { authorization: `Bearer ${token}` } })).status, 200);
});
