/**
 * Edge-to-cloud benchmark: records/s and latency (event time -> arrival at a cloud sink) through
 * the broker, with a real master, worker and agent as separate processes on this machine.
 *
 *   npm run bench:edge              # full
 *   npm run bench:edge -- --quick   # a few seconds
 *
 * Throughput: an unpaced source (as fast as credits allow), measured between the first and the
 * last arrival at the sink. Latency: a source paced at a fixed rate, p50/p99/max of arrival time
 * minus event time (same clock).
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { execSync } from 'node:child_process';
import { Params } from '@tributary/shared';
import { launchMaster, launchNode, waitForNodesOnline } from '../cli/src/launcher.js';
import { submitApp } from '../cli/src/submit.js';

const { values } = parseArgs({ options: { quick: { type: 'boolean', default: false }, broker: { type: 'string' } } });
const quick = values.quick;
const root = new URL('..', import.meta.url).pathname;

interface Figures {
  records: number;
  firstArrival: number;
  lastArrival: number;
  p50: number;
  p99: number;
  max: number;
}

async function runOnce(dir: string, name: string, raw: Record<string, string>): Promise<Figures> {
  const master = await launchMaster(['--data', join(dir, `${name}-master`), '--mqtt-port', '0', '--http-port', '0', ...(values.broker ? ['--broker', values.broker] : [])]);
  const worker = await launchNode('worker', `w-${name}`, ['--master', master.brokerUrl, '--data', join(dir, 'w')]);
  const agent = await launchNode('agent', `a-${name}`, ['--master', master.brokerUrl, '--data', join(dir, 'a')]);
  const output = join(dir, `${name}.json`);
  try {
    await waitForNodesOnline(master.httpUrl, [`w-${name}`, `a-${name}`]);
    process.stderr.write(`  ${name}: cluster up, submitting ${JSON.stringify(raw)}\n`);
    await submitApp(master.httpUrl, join(root, 'bench/apps/edge-to-cloud.ts'), new Params({ ...raw, output }));
    for (let i = 0; i < 1200; i++) {
      const res = await fetch(`${master.httpUrl}/apps/edge-to-cloud`).then((r) => r.json() as Promise<{ state: string; error?: string }>);
      if (res.state === 'finished') break;
      if (i % 50 === 49) process.stderr.write(`  ${name}: still ${res.state}\n`);
      if (res.error) throw new Error(res.error);
      await new Promise((r) => setTimeout(r, 100));
    }
    return JSON.parse(await readFile(output, 'utf8')) as Figures;
  } finally {
    await Promise.all([agent.stop(), worker.stop()]);
    await master.node.stop();
  }
}


const dir = await mkdtemp(join(tmpdir(), 'trib-bench-e2c-'));
const rows: Record<string, unknown>[] = [];
try {
  const n = quick ? 200_000 : 1_000_000;
  const runs = quick ? 1 : 3;
  const rates: number[] = [];
  for (let r = 0; r < runs; r++) {
    const f = await runOnce(dir, `tp${r}`, { count: String(n), sensors: '1', intervalMs: '1', paced: 'false' });
    if (f.records !== n) throw new Error(`throughput run delivered ${f.records} of ${n} records`);
    rates.push(Math.round(f.records / ((f.lastArrival - f.firstArrival) / 1000)));
  }
  rates.sort((a, b) => a - b);
  rows.push({ scenario: 'throughput (unpaced, 1 agent -> 1 worker)', records: n, runs, medianRecordsPerSec: rates[Math.floor(rates.length / 2)], min: rates[0], max: rates.at(-1) });
  for (const rate of quick ? [1_000] : [1_000, 10_000]) {
    const seconds = quick ? 3 : 10;
    const sensors = rate / 1000;
    const f = await runOnce(dir, `lat${rate}`, { count: String(seconds * 1000), sensors: String(sensors), intervalMs: '1', paced: 'true' });
    rows.push({ scenario: `latency at ${rate.toLocaleString('en')} records/s`, records: f.records, p50Ms: f.p50, p99Ms: f.p99, maxMs: f.max });
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}

const commit = (() => {
  try {
    return execSync('git rev-parse --short HEAD', { cwd: root }).toString().trim();
  } catch {
    return 'unknown';
  }
})();
console.table(rows);
await mkdir(join(root, 'bench/results'), { recursive: true });
const out = { benchmark: 'edge-to-cloud', commit, date: new Date().toISOString(), node: process.version, quick, broker: values.broker ?? 'embedded aedes', rows };
await writeFile(join(root, 'bench/results/edge-to-cloud-latest.json'), JSON.stringify(out, null, 2));
console.log(`wrote bench/results/edge-to-cloud-latest.json (commit ${commit})`);
