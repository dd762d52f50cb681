/**
 * What hosting an application inline saves: an agent's RSS (/proc VmRSS) with one nearly idle
 * application (one sensor reading a second, written to a file on the device), hosted
 * `--isolation thread` (a worker thread, its own V8 isolate) and `--isolation inline` (the
 * agent's main thread), and with no application at all for reference. Each case is a fresh
 * master and agent (compiled CLI: run `npm run build` first). Prints a table and writes
 * bench/results/agent-isolation-latest.json. Nothing is asserted.
 *
 *   node --import=tsx bench/agent-isolation.ts                 # 10 s of samples per case
 *   node --import=tsx bench/agent-isolation.ts --seconds 30
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { launchMaster, launchNode, nodeMasterArgs, waitForNodesOnline } from '../cli/src/launcher.js';
import { cliBin, repoRoot, resultsDir } from './lib/paths.js';
import { execFile } from 'node:child_process';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '10' }, settle: { type: 'string', default: '3' } } });
const SECONDS = Number(values.seconds);
const SETTLE = Number(values.settle);

const APP = `
  import { jsonLinesSink, pipeline, simulatedSensors, type Params } from 'tributary';
  export default (params: Params) => pipeline('idle-sensor')
    .source(simulatedSensors({ intervalMs: 1000 })).at('edge')
    .map((r) => ({ ts: r.ts, value: r.value }))
    .sink(jsonLinesSink(params.string('output')));
`;

async function vmRssMB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN);
  return kb / 1024;
}

function submit(file: string, master: string, token: string, output: string): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [cliBin, 'submit', file, '--master', master, '--token', token, '--param', `output=${output}`], { cwd: repoRoot }, (err, _o, stderr) =>
      err ? reject(new Error(`submit failed: ${stderr}`)) : resolve());
  });
}

async function measure(isolation: 'thread' | 'inline' | null, dir: string, appFile: string): Promise<{ meanMB: number; peakMB: number; samples: number }> {
  const caseDir = await mkdtemp(join(dir, 'case-'));
  const master = await launchMaster(['--data', join(caseDir, 'master'), '--mqtt-port', '0', '--http-port', '0']);
  const agent = await launchNode('agent', 'dev-1', [...(await nodeMasterArgs('agent', 'dev-1', master.brokerUrl, join(caseDir, 'dev-1'))), '--data', join(caseDir, 'dev-1'), ...(isolation ? ['--isolation', isolation] : [])]);
  try {
    await waitForNodesOnline(master.httpUrl, ['dev-1']);
    if (isolation) {
      await submit(appFile, master.httpUrl, master.adminToken, join(caseDir, 'out.jsonl'));
      await agent.waitFor((l) => l.msg === 'application running', 'application running');
    }
    await sleep(SETTLE * 1000);
    const samples: number[] = [];
    for (let i = 0; i < SECONDS * 5; i++) {
      samples.push(await vmRssMB(agent.child.pid!));
      await sleep(200);
    }
    const meanMB = samples.reduce((a, b) => a + b, 0) / samples.length;
    return { meanMB: Number(meanMB.toFixed(1)), peakMB: Number(Math.max(...samples).toFixed(1)), samples: samples.length };
  } finally {
    await agent.stop();
    await master.node.stop();
  }
}

const dir = await mkdtemp(join(tmpdir(), 'tributary-bench-isolation-'));
const appDir = await mkdtemp(join(repoRoot, 'test-output-bench-'));
try {
  const appFile = join(appDir, 'idle-sensor.mts');
  await writeFile(appFile, APP);
  const results: Record<string, { meanMB: number; peakMB: number; samples: number }> = {};
  for (const [name, isolation] of [['no application', null], ['one app, thread', 'thread'], ['one app, inline', 'inline']] as const) {
    results[name] = await measure(isolation, dir, appFile);
    process.stdout.write(`${name.padEnd(18)} agent RSS mean ${results[name].meanMB.toFixed(1)} MB, peak ${results[name].peakMB.toFixed(1)} MB (${results[name].samples} samples over ${SECONDS} s)\n`);
  }
  const saved = results['one app, thread'].meanMB - results['one app, inline'].meanMB;
  process.stdout.write(`inline saves ${saved.toFixed(1)} MB of RSS with one application\n`);
  const out = join(resultsDir, 'agent-isolation-latest.json');
  await writeFile(out, JSON.stringify({ at: new Date().toISOString(), node: process.version, seconds: SECONDS, settleSeconds: SETTLE, results, inlineSavesMB: Number(saved.toFixed(1)) }, null, 2));
  process.stdout.write(`wrote ${out}\n`);
} finally {
  await rm(dir, { recursive: true, force: true });
  await rm(appDir, { recursive: true, force: true });
}
