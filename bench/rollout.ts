/**
 * Fleet rollout cost with a large fleet: a real master (child process) and N light agents
 * (bench/lib/fake-agents.ts: MQTT clients that say hello and heartbeat every second like real
 * agents and play self-update: download the version their desired state names from the master,
 * check its SHA-256, report it committed). One agent rollout v1 -> v2 with a canary and growing
 * waves; measured: time until it has succeeded, and the master's CPU seconds and RSS meanwhile.
 *
 *   node --import=tsx bench/rollout.ts                          # 1,000 agents, canary 10, waves 50,2
 *   node --import=tsx bench/rollout.ts --agents 200 --canary 5 --waves 20,2
 *
 * The agent "binaries" are small files (the download cost of a real 100 MB binary is the
 * devices' bandwidth, not the master's CPU). Application and configuration rollouts are not
 * built yet. Writes bench/results/rollout-latest.json.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { adminHeaders, launchMaster, waitForNodesOnline } from '../cli/src/launcher.js';
import { FakeAgents } from './lib/fake-agents.js';
import { resultsDir } from './lib/paths.js';
import { UsageWindow } from './lib/procs.js';

const { values } = parseArgs({ options: { agents: { type: 'string', default: '1000' }, canary: { type: 'string', default: '10' }, waves: { type: 'string', default: '50,2' } } });
const N = Number(values.agents);
const [base, factor] = values.waves.split(',').map(Number);

const dir = await mkdtemp(join(tmpdir(), 'tributary-bench-rollout-'));
const agentDir = join(dir, 'agents');
for (const v of ['v1', 'v2']) {
  await mkdir(join(agentDir, v), { recursive: true });
  await writeFile(join(agentDir, v, 'tributary-agent-linux-x64'), `#!/bin/sh\n# agent ${v}\n${'#'.repeat(4096)}\n`, { mode: 0o755 });
}
const master = await launchMaster(['--data', join(dir, 'master'), '--mqtt-port', '0', '--http-port', '0', '--agent-dir', agentDir, '--broker-max-connections', String(N + 100)]);
let agents: FakeAgents | null = null;
try {
  const ids = Array.from({ length: N }, (_, i) => `bench-agent-${String(i).padStart(4, '0')}`);
  agents = await FakeAgents.connect(master.brokerUrl, ids, { labels: () => ({ fleet: 'bench' }), agentVersion: 'v1', concurrency: 200 });
  await waitForNodesOnline(master.httpUrl, ids);
  console.log(`${N} agents online`);
  const headers = { 'content-type': 'application/json', ...adminHeaders(master.httpUrl) };
  const usage = new UsageWindow({ master: master.node.child.pid! }, 100).start();
  const t0 = Date.now();
  const res = await fetch(`${master.httpUrl}/rollouts`, {
    method: 'POST', headers,
    body: JSON.stringify({ kind: 'agent', version: 'v2', selector: { fleet: 'bench' }, canary: Number(values.canary), waves: { base, factor }, maxFailuresPercent: 1, stepTimeoutMs: 120_000 }),
  });
  if (res.status !== 201) throw new Error(`POST /rollouts: ${res.status} ${await res.text()}`);
  const { id } = (await res.json()) as { id: string };
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  let r: any;
  for (;;) {
    r = await (await fetch(`${master.httpUrl}/rollouts/${id}`, { headers })).json();
    if (!['running', 'aborting'].includes(r.state)) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const ms = Date.now() - t0;
  const { usage: u } = usage.stop();
  const result = {
    at: new Date().toISOString(), agents: N, canary: Number(values.canary), waves: { base, factor }, state: r.state,
    waveSizes: (r.plan as string[][]).map((w) => w.length), counts: r.counts, rolloutMs: ms,
    master: { cpuSec: Number(u.master!.cpuSec.toFixed(2)), peakRssMB: Math.round(u.master!.peakRssMB), meanRssMB: Math.round(u.master!.meanRssMB) },
  };
  console.log(JSON.stringify(result, null, 2));
  await mkdir(resultsDir, { recursive: true });
  await writeFile(join(resultsDir, 'rollout-latest.json'), `${JSON.stringify(result, null, 2)}\n`);
} finally {
  await agents?.close();
  await master.node.stop();
  await rm(dir, { recursive: true, force: true });
}
