/**
 * `npm run bench:startup`: what a user feels of the compiled code. (1) `tributary --version`
 * wall time, median of 15 runs after one warm-up; (2) a worker's and an agent's idle RSS: a
 * master, one worker and one agent (no application), RSS sampled every 100 ms for 5 s once both
 * are online (mean of /proc VmRSS). Prints the figures and writes bench/results/startup.json.
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { launchMaster, launchNode, nodeMasterArgs, waitForNodesOnline } from '../cli/src/launcher.js';
import { memoryMB } from './lib/procs.js';

const bin = join(import.meta.dirname, '../cli/bin/tributary.js');
const RUNS = 15;

function versionMs(): number {
  const t0 = performance.now();
  execFileSync(process.execPath, [bin, '--version'], { stdio: 'ignore' });
  return performance.now() - t0;
}

versionMs();
const times = Array.from({ length: RUNS }, versionMs).sort((a, b) => a - b);
const versionMedianMs = times[Math.floor(RUNS / 2)];
console.log(`tributary --version: median ${versionMedianMs.toFixed(0)} ms over ${RUNS} runs (min ${times[0].toFixed(0)}, max ${times[RUNS - 1].toFixed(0)})`);

const data = await mkdtemp(join(tmpdir(), 'trib-startup-'));
const master = await launchMaster(['--mqtt-port', '0', '--http-port', '0', '--data', join(data, 'master')]);
const worker = await launchNode('worker', 'w-1', [...(await nodeMasterArgs('worker', 'w-1', master.brokerUrl, join(data, 'w-1'))), '--data', join(data, 'w-1')]);
const agent = await launchNode('agent', 'a-1', [...(await nodeMasterArgs('agent', 'a-1', master.brokerUrl, join(data, 'a-1'))), '--data', join(data, 'a-1')]);
await waitForNodesOnline(master.httpUrl, ['w-1', 'a-1']);
const samples: Record<string, number[]> = { worker: [], agent: [] };
for (let i = 0; i < 50; i++) {
  samples.worker.push(memoryMB(worker.child.pid!).rss);
  samples.agent.push(memoryMB(agent.child.pid!).rss);
  await new Promise((r) => setTimeout(r, 100));
}
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const idle = { workerRssMB: Number(mean(samples.worker).toFixed(1)), agentRssMB: Number(mean(samples.agent).toFixed(1)) };
console.log(`idle RSS: worker ${idle.workerRssMB} MB, agent ${idle.agentRssMB} MB`);
await Promise.all([agent.stop(), worker.stop()]);
await master.node.stop();

const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD']).toString().trim();
const out = join(import.meta.dirname, 'results');
await mkdir(out, { recursive: true });
await writeFile(join(out, 'startup.json'), JSON.stringify({ commit, node: process.version, versionMedianMs: Math.round(versionMedianMs), versionRunsMs: times.map(Math.round), ...idle }, null, 2) + '\n');
