import test from 'ava';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { adminHeaders, api } from './helpers/cluster.js';
import { repoRoot, tributary } from './helpers/cli.js';
import { fleetVersions, rolloutAndWait, startFleet, type Fleet } from './helpers/rollout-fleet.js';

/**
 * Fleet rollouts of agent versions end to end (issue 16): a real master and six real agent
 * processes (`tributary agent`, started through wrapper "binaries" per version), each installed
 * into two slots and run by a supervise loop that does what systemd does with the unit (the start
 * guard as ExecStartPre, then `<data>/agent/current`, Restart=always). The versions are shell
 * scripts the master serves, hashes and signs like real binaries: v2 and v4 exec the agent; v3 is
 * broken (exits 1 before any JavaScript runs, so only the guard can save the device).
 */
const goodAgent = (v: string) => `#!/bin/sh\n# tributary test agent ${v}\nexec '${process.execPath}' '${join(repoRoot, 'cli/bin/tributary.js')}' agent "$@"\n`;
const brokenAgent = '#!/bin/sh\n# tributary test agent v3: broken, it dies before anything runs\necho "v3: segmentation fault" >&2\nexit 1\n';

let ctx: Fleet;
let ids: string[];

test.before(async () => {
  ctx = await startFleet({
    n: 6, installed: 'v1',
    versions: { v1: { script: goodAgent('v1') }, v2: { script: goodAgent('v2') }, v3: { script: brokenAgent }, v4: { script: goodAgent('v4') } },
  });
  ids = ctx.ids;
});

test.after.always(async () => {
  await ctx?.stop();
});

const rollout = (body: Record<string, unknown>) => rolloutAndWait(ctx, body);
const versions = () => fleetVersions(ctx);

test.serial('v1 -> v2: the canary, then waves of 2 and 3, each started after the previous one ended; every device commits v2', async (t) => {
  t.deepEqual(await versions(), Object.fromEntries(ids.map((id) => [id, 'v1'])));
  const r = await rollout({ version: 'v2', selector: { fleet: 'test' }, canary: 1, waves: { base: 2, factor: 1.5 }, maxFailuresPercent: 0, stepTimeoutMs: 90_000 });
  t.is(r.state, 'succeeded', JSON.stringify(r));
  t.deepEqual(r.plan, [['dev-1'], ['dev-2', 'dev-3'], ['dev-4', 'dev-5', 'dev-6']]);
  for (const id of ids) t.like(r.steps[id], { state: 'succeeded', from: 'v1' }, id);
  for (let w = 1; w < r.plan.length; w++) {
    const prevEnd = Math.max(...r.plan[w - 1].map((id: string) => r.steps[id].endedAt));
    const start = Math.min(...r.plan[w].map((id: string) => r.steps[id].startedAt));
    t.true(start >= prevEnd, `wave ${w} started after wave ${w - 1} ended`);
  }
  t.deepEqual(await versions(), Object.fromEntries(ids.map((id) => [id, 'v2'])));
  for (const id of ids) {
    t.regex(await readFile(join(ctx.dir, id, 'agent/result'), 'utf8'), /^committed v2 /, id);
    await t.throwsAsync(readFile(join(ctx.dir, id, 'agent/trial'), 'utf8'), undefined, `${id}: no trial left`);
  }
  const metrics = await (await fetch(`${ctx.master.httpUrl}/metrics`)).text();
  t.regex(metrics, /tributary_rollout_steps_total\{outcome="succeeded"\} 6/);
});

test.serial('a broken v3 (dies before any JavaScript runs) stops after the canary: the guard puts the canary back on v2, the rollout aborts, every device ends on v2', async (t) => {
  const r = await rollout({ version: 'v3', selector: { fleet: 'test' }, canary: 1, waves: { base: 2, factor: 2 }, maxFailuresPercent: 0, stepTimeoutMs: 90_000 });
  t.is(r.state, 'aborted', JSON.stringify(r));
  t.like(r.steps['dev-1'], { state: 'failed', from: 'v2' });
  t.regex(r.steps['dev-1'].reason, /crash loop: 3 starts without proving healthy/);
  for (const id of ids.slice(1)) t.like(r.steps[id], { state: 'cancelled' }, id);
  t.deepEqual(await versions(), Object.fromEntries(ids.map((id) => [id, 'v2'])));
  t.regex(await readFile(join(ctx.dir, 'dev-1', 'agent/result'), 'utf8'), /^rolled-back v3 crash loop/);
  const canary = ctx.agents.get('dev-1')!;
  t.true(canary.guardLog.some((l) => /rolled back to slot/.test(l)), canary.guardLog.join('\n'));
  t.true(canary.exits.filter((c) => c === 1).length >= 3, `v3 exited 1 at each of its starts: ${canary.exits.join(',')}`);
  t.like((await api(ctx.master.httpUrl, '/nodes')).body.find((n: { id: string }) => n.id === 'dev-1').agent, { version: 'v2', target: 'v3' });
});

test.serial('an agent killed (SIGKILL) while its new version is on trial comes back on a working version and the rollout completes', async (t) => {
  const a = ctx.agents.get('dev-3')!;
  const trial = a.waitFor((l) => l.event === 'update-trial' && l.version === 'v4', 'v4 on trial');
  const done = rollout({ version: 'v4', selector: { dev: 'dev-3' }, canary: 1, maxFailuresPercent: 0, stepTimeoutMs: 90_000 });
  await trial;
  a.kill('SIGKILL');
  const r = await done;
  t.is(r.state, 'succeeded', JSON.stringify(r));
  t.like(r.steps['dev-3'], { state: 'succeeded', from: 'v2' });
  t.true(a.exits.includes(null), 'killed by a signal');
  t.true(a.guardLog.some((l) => /version v4 on trial: start 2/.test(l)), a.guardLog.join('\n'));
  t.like(await versions(), { 'dev-3': 'v4', 'dev-1': 'v2' });
});

test.serial('the CLI: `fleet rollout agent` starts one, `fleet status` shows its waves, per-device steps and the version histogram', async (t) => {
  const env = { TRIBUTARY_TOKEN: ctx.master.adminToken };
  const started = await tributary(['fleet', 'rollout', 'agent', 'v4', '--selector', 'dev=dev-6', '--canary', '1', '--waves', '2,2', '--max-failures', '0', '--step-timeout', '90s', '--master', ctx.master.httpUrl], env);
  t.is(started.code, 0, started.stderr);
  const id = /^rollout (\S+): agent v4 to 1 devices in waves of 1$/m.exec(started.stdout)?.[1];
  t.truthy(id, started.stdout);
  const watched = await tributary(['fleet', 'status', id!, '--watch', '--master', ctx.master.httpUrl], env);
  t.is(watched.code, 0, watched.stderr);
  t.regex(watched.stdout, new RegExp(`rollout ${id}  agent v4  succeeded`));
  t.regex(watched.stdout, /wave 0 \(canary\)/);
  // With the bytes the master sent the device: its download of v4.
  t.regex(watched.stdout, /dev-6 +succeeded +from v[12] +\d+(\.\d)? (B|KiB|MiB) +running v4, healthy/);
  t.regex(watched.stdout, /sent: \d+(\.\d)? (B|KiB|MiB) to 1 devices/);
  t.regex(watched.stdout, /versions: v4 1/);
  const bad = await tributary(['fleet', 'rollout', 'agent', 'v9', '--master', ctx.master.httpUrl], env);
  t.not(bad.code, 0);
  t.regex(bad.stderr, /TRIB_ERR_ROLLOUT_INVALID.*no signed agent binary v9/);
});

test.serial('the dashboard\'s Rollouts page shows each rollout: state, waves, per-device steps and the version histogram', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'trib-rollout-chromium-'));
  const browser = await chromium.launchPersistentContext(dir, {
    executablePath: '/usr/bin/chromium', extraHTTPHeaders: adminHeaders(ctx.master.httpUrl),
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  t.teardown(async () => { await browser.close(); await rm(dir, { recursive: true, force: true }); });
  const page = browser.pages()[0] ?? (await browser.newPage());
  page.setDefaultTimeout(30_000);
  await page.goto(`${ctx.master.httpUrl}/#/rollouts`);
  await page.waitForSelector('[data-rollout]');
  const rollouts = (await api(ctx.master.httpUrl, '/rollouts')).body as { id: string; state: string }[];
  const shown = await page.$$eval('[data-rollout]', (els) => els.map((e) => ({ id: e.getAttribute('data-rollout'), state: e.querySelector('[data-testid=rollout-state]')?.textContent })));
  t.deepEqual(shown, rollouts.slice(0, 5).map((r) => ({ id: r.id, state: r.state })));
  const broken = rollouts.find((r) => r.state === 'aborted')!;
  const canary = await page.$eval(`[data-rollout="${broken.id}"] tr[data-node="dev-1"]`, (tr) => tr.textContent ?? '');
  t.regex(canary, /failed.*crash loop/);
  // The histogram: the versions the rollout's devices run now (dev-3 and dev-6 went on to v4).
  const counts: Record<string, number> = {};
  for (const v of Object.values(await versions())) counts[v] = (counts[v] ?? 0) + 1;
  const histogram = await page.$$eval(`[data-rollout="${broken.id}"] [data-testid=versions] .bar-row`, (rows) => rows.map((e) => (e.textContent ?? '').replace(/\s+/g, ' ').trim()));
  t.deepEqual(histogram, Object.entries(counts).sort().map(([v, n]) => `${v} ${n}`));
});
