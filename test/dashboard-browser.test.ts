import test from 'ava';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { api, startMaster, startNode, waitForNodesOnline, type Proc, type RunningMaster } from './helpers/cluster.js';
import { repoRoot, tributary } from './helpers/cli.js';
import { fakeAgent, type FakeAgent } from './helpers/fake-agent.js';
import { tempDir } from './helpers/tmp.js';

const CHROMIUM = '/usr/bin/chromium';
const SHOTS = join(repoRoot, 'test-output/screenshots');
const AGENTS = { 'dev-1': { site: 'plant-1' }, 'dev-2': { site: 'plant-1' }, 'dev-3': { site: 'plant-2' } };

let master: RunningMaster;
const nodes = new Map<string, Proc>();
let browser: BrowserContext;
let page: Page;
let cleanupDir: () => Promise<void> = async () => {};
let fake: FakeAgent | undefined;

/** The demo cluster (1 master, 1 worker, 3 agents) running plant-monitor unbounded, and Chromium. */
test.before(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install chromium (.ci/run does)`);
  const dir = await tempDir();
  cleanupDir = dir.cleanup;
  master = await startMaster(join(dir.path, 'master'));
  nodes.set('worker-1', await startNode('worker', 'worker-1', master.brokerUrl, dir.path));
  for (const [id, labels] of Object.entries(AGENTS)) nodes.set(id, await startNode('agent', id, master.brokerUrl, dir.path, labels));
  await waitForNodesOnline(master.httpUrl, [...nodes.keys()]);
  const params = { topic: 'browser/windows', intervalMs: '20', windowMs: '2000' };
  const submit = await tributary(['submit', 'examples/plant-monitor.ts', '--master', master.httpUrl, ...Object.entries(params).flatMap(([k, v]) => ['--param', `${k}=${v}`])]);
  if (submit.code !== 0) throw new Error(submit.stderr);
  await mkdir(SHOTS, { recursive: true });
  // A fresh profile per run (playwright passes it as --user-data-dir).
  browser = await chromium.launchPersistentContext(join(dir.path, 'chromium'), {
    executablePath: CHROMIUM, viewport: { width: 1400, height: 1000 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  page = browser.pages()[0] ?? (await browser.newPage());
  page.setDefaultTimeout(30_000);
  await logIn(master.adminToken);
});

/** The dashboard's login form: a browser without a session gets it at `/`, and the session cookie after it. */
async function logIn(token: string): Promise<void> {
  await page.goto(`${master.httpUrl}/#/`);
  await page.waitForSelector('[data-testid=login-form]');
  await page.fill('#token', token);
  await Promise.all([page.waitForSelector('[data-testid=stream-status]'), page.click('[data-testid=login-form] button[type=submit]')]);
}

test.after.always(async () => {
  await fake?.close();
  await browser?.close();
  await Promise.all([...nodes.values()].map((n) => n.stop()));
  await master?.proc.stop();
  await cleanupDir();
});

test.serial('overview lists plant-monitor and the fleet by label', async (t) => {
  await page.goto(`${master.httpUrl}/#/`);
  await page.waitForSelector('[data-testid=apps] tr[data-app=plant-monitor]');
  t.is(await page.textContent('[data-testid=apps] tr[data-app=plant-monitor] .state'), 'running');
  await page.waitForFunction(() => /4.*online/.test(document.querySelector('[data-testid=fleet-summary]')?.textContent ?? ''));
  t.regex((await page.textContent('[data-testid=fleet-labels]')) ?? '', /site=plant-1\s*2\s*0/);
  await page.screenshot({ path: join(SHOTS, 'overview.png'), fullPage: true });
});

test.serial('the app page draws every processor of plant-monitor with its edge/cloud placement, and figures move', async (t) => {
  const plan = (await api(master.httpUrl, '/apps/plant-monitor/plan')).body as { logical: { processors: { id: number; name: string; placement: { where: string } }[]; edges: unknown[] } };
  await page.goto(`${master.httpUrl}/#/apps/plant-monitor`);
  await page.waitForFunction((n) => {
    const cy = (window as unknown as { __tributary: { cy?: { nodes(s: string): { length: number } } } }).__tributary.cy;
    return cy !== undefined && cy.nodes('[processor >= 0]').length === n;
  }, plan.logical.processors.length);
  const drawn = await page.evaluate(() => {
    const cy = (window as unknown as { __tributary: { cy: { nodes(s: string): { map<T>(f: (n: { data(k: string): unknown; parent(): { id(): string } }) => T): T[] }; edges(): { length: number } } } }).__tributary.cy;
    return { nodes: cy.nodes('[processor >= 0]').map((n) => ({ id: n.data('processor') as number, name: n.data('name') as string, runsOn: n.data('runsOn') as string, group: n.parent().id() })), edges: cy.edges().length };
  });
  t.deepEqual(drawn.nodes.map((n) => n.name).sort(), plan.logical.processors.map((p) => p.name).sort(), 'one graph node per processor');
  for (const p of plan.logical.processors) {
    const n = drawn.nodes.find((x) => x.id === p.id)!;
    const want = p.placement.where === 'edge' ? 'edge' : 'cloud';
    t.is(n.runsOn, want, `${p.name} runs on the ${want}`);
    t.is(n.group, `g-${want}`, `${p.name} is drawn in the ${want} group`);
  }
  t.is(drawn.edges, plan.logical.edges.length);
  t.deepEqual(await page.$$eval('[data-testid=processors] tr[data-processor]', (rows) => rows.map((r) => r.getAttribute('data-runs-on'))), plan.logical.processors.map((p) => (p.placement.where === 'edge' ? 'edge' : 'cloud')));

  // Throughput: the figures change between two pushed snapshots (no polling, no sleeps).
  await page.waitForFunction(() => Number(document.querySelector('[data-testid=app-records-in]')?.textContent?.replace(/,/g, '') ?? 0) > 0);
  const before = await page.textContent('[data-testid=app-records-in]');
  await page.waitForFunction((b) => {
    const now = document.querySelector('[data-testid=app-records-in]')?.textContent;
    return now !== undefined && now !== b;
  }, before);
  await page.waitForFunction(() => !/^0\.0\/s$/.test(document.querySelector('[data-testid=app-throughput]')?.textContent ?? ''));
  t.not(await page.textContent('[data-testid=app-records-in]'), before);
  // The min-clock chart next to the lag chart: a uPlot canvas with points that have a min-clock.
  t.is(await page.$$eval('[data-testid=clock-chart] canvas', (x) => x.length), 1);
  await page.waitForFunction(() => Number(document.querySelector<HTMLElement>('[data-testid=clock-chart]')?.dataset.points ?? 0) >= 2);
  t.regex((await page.textContent('[data-testid=clock-chart]')) ?? '', /min-clock/);
  await page.screenshot({ path: join(SHOTS, 'app.png'), fullPage: true });

  await page.click('[data-testid=processors] tr[data-processor="0"] a');
  await page.waitForFunction(() => document.querySelectorAll('[data-testid=skew] .bar').length === 3);
  t.regex((await page.textContent('[data-testid=processor-kpis]')) ?? '', /3 task\(s\)/);
  const latency = /^\d+(\.\d)? (µs|ms|s)$/;
  // One rendering where every task shows figures (a task idle for a whole report interval shows —).
  const taskLatencies = async () => (await page.waitForFunction(() => {
    const texts = [...document.querySelectorAll('[data-testid=processor-tasks] tbody tr')].map((r) => ['latency-p50', 'latency-p99', 'processing-p50', 'processing-p99'].map((id) => r.querySelector(`[data-testid=${id}]`)?.textContent ?? ''));
    return texts.length > 0 && texts.flat().every((x) => x !== '—') ? texts : null;
  })).jsonValue();
  // Source tasks report event-time and processing latency too.
  const sourceCells = await taskLatencies();
  t.is(sourceCells!.length, 3);
  for (const text of sourceCells!.flat()) t.regex(text, latency);
  await page.screenshot({ path: join(SHOTS, 'processor.png'), fullPage: true });

  // The cloud processor (fed by channels): per-task latency next to throughput, and its hot keys.
  await page.goto(`${master.httpUrl}/#/apps/plant-monitor/processors/1`);
  const cells = await taskLatencies();
  t.truthy(cells);
  for (const text of cells!.flat()) t.regex(text, latency);
  t.regex((await page.textContent('[data-testid=processor-latency-p99]')) ?? '', latency);
  await page.waitForSelector('[data-testid=hot-keys] tr[data-key]');
  for (const key of await page.$$eval('[data-testid=hot-keys] tr[data-key]', (x) => x.map((r) => r.getAttribute('data-key') ?? ''))) t.regex(key, /^dev-[1-3]\/(temperature|vibration)$/);
  t.regex((await page.textContent('[data-testid=key-skew]')) ?? '', /hottest key dev-[1-3]\/\w+: ≈[\d.]+% of the records, on task 0/);
  await page.screenshot({ path: join(SHOTS, 'processor-latency.png'), fullPage: true });
});

test.serial('stopping an agent turns it offline on the fleet page and marks its tasks', async (t) => {
  await page.goto(`${master.httpUrl}/#/fleet`);
  await page.waitForFunction(() => document.querySelectorAll('[data-testid=fleet] tr[data-node]').length === 4);
  await page.fill('[data-testid=fleet-filter]', 'site=plant-1');
  t.deepEqual(await page.$$eval('[data-testid=fleet] tr[data-node]', (rows) => rows.map((r) => r.getAttribute('data-node'))), ['dev-1', 'dev-2']);
  await page.fill('[data-testid=fleet-filter]', '');
  t.is(await page.getAttribute('tr[data-node=dev-3]', 'data-online'), 'true');
  t.is(await page.$$eval('tr[data-node=dev-3] .task.stopped', (x) => x.length), 0);

  t.is(await nodes.get('dev-3')!.stop('SIGTERM'), 0);
  await page.waitForSelector('tr[data-node=dev-3][data-online=false]');
  t.is(await page.textContent('tr[data-node=dev-3] [data-testid=node-state]'), 'offline');
  t.true((await page.$$eval('tr[data-node=dev-3] .task.stopped', (x) => x.length)) > 0, 'its tasks are marked stopped');
  t.is(await page.getAttribute('tr[data-node=dev-1]', 'data-online'), 'true');
  await page.screenshot({ path: join(SHOTS, 'fleet-agent-offline.png'), fullPage: true });

  await page.goto(`${master.httpUrl}/#/apps/plant-monitor`);
  await page.waitForSelector('[data-testid=tasks] tr.bad[data-node=dev-3]');
  t.regex((await page.textContent('[data-testid=tasks] tr[data-node=dev-3] [data-testid=task-status]')) ?? '', /node dev-3 is offline/);
  await page.waitForFunction(() => (window as unknown as { __tributary: { cy?: { getElementById(id: string): { hasClass(c: string): boolean } } } }).__tributary.cy?.getElementById('p0').hasClass('bad') === true);
  t.is(await page.$$eval('[data-testid=tasks] tr.bad', (x) => x.length), 1, 'only the stopped agent\'s task is marked');
  await page.screenshot({ path: join(SHOTS, 'app-agent-offline.png'), fullPage: true });
});

// Last: a fake agent joins the fleet (the counts above assume the demo's four nodes).
test.serial('the fleet page shows each node\'s replay-log backlog and disk use', async (t) => {
  // Real agents may not report replay logs yet: a hand-made heartbeat, as bench/dashboard.ts does.
  fake = await fakeAgent(master.brokerUrl, 'fake-agent', { site: 'plant-9' }, () => ({
    now: Date.now(), apps: {}, replayLog: { backlogRecords: 12_345, diskBytes: 3 * 1024 * 1024, quotaBytes: 64 * 1024 * 1024, droppedRecords: 0, blocked: false },
  }));
  await page.goto(`${master.httpUrl}/#/fleet`);
  const headers = await page.$$eval('[data-testid=fleet] thead th', (x) => x.map((h) => h.textContent));
  t.true(headers.includes('replay backlog') && headers.includes('replay disk'), headers.join(', '));
  await page.waitForFunction(() => document.querySelector('tr[data-node=fake-agent] [data-testid=replay-backlog]')?.textContent === '12,345');
  t.is(await page.textContent('tr[data-node=fake-agent] [data-testid=replay-disk]'), '3.0 MiB / 64.0 MiB');
  // Every row has the columns, reported or not.
  t.is(await page.$$eval('[data-testid=fleet] tr[data-node] [data-testid=replay-backlog]', (x) => x.length), await page.$$eval('[data-testid=fleet] tr[data-node]', (x) => x.length));
  await page.screenshot({ path: join(SHOTS, 'fleet-replay.png'), fullPage: true });
});

test.serial('logging out brings the login form back; a wrong token is refused; logging in returns to the page asked for', async (t) => {
  await page.goto(`${master.httpUrl}/#/fleet`);
  await page.waitForSelector('[data-testid=fleet] tr[data-node]');
  await Promise.all([page.waitForSelector('[data-testid=login-form]'), page.click('[data-testid=logout]')]);
  t.is((await page.context().cookies()).filter((c) => c.name === 'tributary_session').length, 0, 'the session cookie is cleared');

  await page.goto(`${master.httpUrl}/#/fleet`);
  await page.fill('#token', 'trb_not-a-token-of-this-master');
  await Promise.all([page.waitForSelector('[data-testid=login-error]'), page.click('[data-testid=login-form] button[type=submit]')]);
  t.regex((await page.textContent('[data-testid=login-error]')) ?? '', /not valid/);

  await page.goto(`${master.httpUrl}/#/fleet`);
  await page.fill('#token', master.adminToken);
  await Promise.all([page.waitForSelector('[data-testid=fleet] tr[data-node]'), page.click('[data-testid=login-form] button[type=submit]')]);
  t.regex(page.url(), /#\/fleet$/);
  const cookie = (await page.context().cookies()).find((c) => c.name === 'tributary_session');
  t.truthy(cookie);
  t.true(cookie!.httpOnly);
  t.is(cookie!.sameSite, 'Strict');
});
