/**
 * Dashboard cost with a large fleet: a real master (child process) with N agents registered
 * (default 200; MQTT clients that say hello and heartbeat every second like real agents, without
 * running tasks), then:
 *  - GET /snapshot: latency and size (built once per second and shared by every viewer);
 *  - the SSE stream: snapshots and bytes per second to one viewer;
 *  - headless Chromium (if /usr/bin/chromium exists): time until the fleet page shows every
 *    node, and the in-page cost to parse and render one pushed snapshot (fleet and overview).
 *
 *   npm run bench:dashboard                 # 200 agents
 *   npm run bench:dashboard -- --agents 500
 *
 * Writes bench/results/dashboard-latest.json.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';
import { adminHeaders, launchMaster, waitForNodesOnline } from '../cli/src/launcher.js';
import { FakeAgents } from './lib/fake-agents.js';
import { resultsDir } from './lib/paths.js';

const { values } = parseArgs({ options: { agents: { type: 'string', default: '200' }, seconds: { type: 'string', default: '5' } } });
const N = Number(values.agents);
const SECONDS = Number(values.seconds);
const CHROMIUM = '/usr/bin/chromium';

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const p95 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length * 0.95)];

const dir = await mkdtemp(join(tmpdir(), 'tributary-bench-dash-'));
// Light agents log in without enrolling (anonymous admitted on this master): the dashboard is measured.
const master = await launchMaster(['--data', join(dir, 'master'), '--mqtt-port', '0', '--http-port', '0', '--allow-anonymous-mqtt', 'on']);
let agents: FakeAgents | null = null;
try {
  const ids = Array.from({ length: N }, (_, i) => `bench-agent-${String(i).padStart(4, '0')}`);
  const started = Date.now();
  agents = await FakeAgents.connect(master.brokerUrl, ids, {
    labels: (i) => ({ site: `plant-${i % 10}`, model: i % 3 === 0 ? 'gw-200' : 'gw-100' }),
    concurrency: N,
  });
  await waitForNodesOnline(master.httpUrl, ids);
  const registerMs = Date.now() - started;
  console.log(`${N} agents registered and online in ${registerMs} ms`);

  // GET /snapshot
  const lat: number[] = [];
  let bytes = 0;
  for (let i = 0; i < 30; i++) {
    const t0 = performance.now();
    const body = await (await fetch(`${master.httpUrl}/snapshot`, { headers: adminHeaders(master.httpUrl) })).text();
    lat.push(performance.now() - t0);
    bytes = body.length;
  }

  // SSE to one viewer
  const ctl = new AbortController();
  const res = await fetch(`${master.httpUrl}/stream`, { signal: ctl.signal, headers: adminHeaders(master.httpUrl) });
  let sseBytes = 0;
  let sseEvents = 0;
  const reading = (async () => {
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        sseBytes += chunk.length;
        sseEvents += new TextDecoder().decode(chunk).split('event: snapshot').length - 1;
      }
    } catch { /* aborted */ }
  })();
  await new Promise((r) => setTimeout(r, SECONDS * 1000));
  ctl.abort();
  await reading;

  // Chromium
  let browserFigures: Record<string, number> | null = null;
  if (existsSync(CHROMIUM)) {
    const ctx = await chromium.launchPersistentContext(join(dir, 'chromium'), {
      executablePath: CHROMIUM, viewport: { width: 1400, height: 1000 },
      // The admin token on every request (page, script, stream): this measures rendering, not the login form.
      extraHTTPHeaders: adminHeaders(master.httpUrl),
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    const page = ctx.pages()[0] ?? (await ctx.newPage());
    const t0 = Date.now();
    await page.goto(`${master.httpUrl}/#/fleet`);
    await page.waitForFunction((n) => document.querySelectorAll('[data-testid=fleet] tr[data-node]').length === n, N, { timeout: 60_000 });
    const fleetLoadMs = Date.now() - t0;
    const cost = async () => {
      const a = await page.evaluate(() => { const s = (window as unknown as { __tributary: { store: { received: number; renderMs: number } } }).__tributary.store; return { n: s.received, ms: s.renderMs }; });
      await page.waitForTimeout(SECONDS * 1000);
      const b = await page.evaluate(() => { const s = (window as unknown as { __tributary: { store: { received: number; renderMs: number } } }).__tributary.store; return { n: s.received, ms: s.renderMs }; });
      return { updates: b.n - a.n, msPerUpdate: (b.ms - a.ms) / Math.max(1, b.n - a.n) };
    };
    const fleet = await cost();
    await page.goto(`${master.httpUrl}/#/`);
    const overview = await cost();
    await ctx.close();
    browserFigures = { fleetLoadMs, fleetUpdates: fleet.updates, fleetMsPerUpdate: fleet.msPerUpdate, overviewUpdates: overview.updates, overviewMsPerUpdate: overview.msPerUpdate };
  }

  const result = {
    at: new Date().toISOString(), agents: N, registerMs,
    snapshot: { bytes, medianMs: median(lat), p95Ms: p95(lat) },
    sse: { seconds: SECONDS, events: sseEvents, bytesPerSecond: Math.round(sseBytes / SECONDS) },
    browser: browserFigures,
  };
  console.log(JSON.stringify(result, null, 2));
  await mkdir(resultsDir, { recursive: true });
  await writeFile(join(resultsDir, 'dashboard-latest.json'), `${JSON.stringify(result, null, 2)}\n`);
} finally {
  await agents?.close();
  await master.node.stop();
  await rm(dir, { recursive: true, force: true });
}
