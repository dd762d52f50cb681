/**
 * Fleet rollout cost with a large fleet: a real master (child process) and N light agents
 * (bench/lib/fake-agents.ts: MQTT clients that say hello and heartbeat every second like real
 * agents, play self-update — download the version their desired state names from the master,
 * check its SHA-256, report it committed — and play hosting applications — download the bundle
 * of each assignment, check it, report their tasks running in its epoch). Then, one after the
 * other, with a canary and growing waves:
 *  - agent: an agent rollout v1 -> v2;
 *  - app: bench/apps/placement.ts (one edge task on every agent) submitted, then an application
 *    rollout of a new bundle of it (bench/apps/placement-v2.ts): each wave is a recovery of the
 *    application in a new epoch, so every agent is told again and reports again each wave.
 * Measured per kind: time until the rollout has succeeded, the master's CPU seconds and RSS
 * meanwhile, and the bytes it sent the devices.
 *
 *   npm run bench:rollout                                       # 1,000 agents, canary 10, waves 50,2, both kinds
 *   node --import=tsx bench/rollout.ts --agents 200 --canary 5 --waves 20,2 --kind app
 *
 * The agent "binaries" are small files (the download cost of a real 100 MB binary is the
 * devices' bandwidth, not the master's CPU). Writes bench/results/rollout-latest.json.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { adminHeaders, launchMaster, waitForNodesOnline } from '../cli/src/launcher.js';
import { bundleApp } from '../cli/src/bundle.js';
import { FakeAgents } from './lib/fake-agents.js';
import { repoRoot, resultsDir } from './lib/paths.js';
import { UsageWindow } from './lib/procs.js';
import { prepareSubmission } from './lib/submit.js';

const { values } = parseArgs({ options: { agents: { type: 'string', default: '1000' }, canary: { type: 'string', default: '10' }, waves: { type: 'string', default: '50,2' }, kind: { type: 'string', default: 'agent,app' } } });
const kinds = values.kind.split(',');
const N = Number(values.agents);
const [base, factor] = values.waves.split(',').map(Number);

const dir = await mkdtemp(join(tmpdir(), 'tributary-bench-rollout-'));
const agentDir = join(dir, 'agents');
for (const v of ['v1', 'v2']) {
  await mkdir(join(agentDir, v), { recursive: true });
  await writeFile(join(agentDir, v, 'tributary-agent-linux-x64'), `#!/bin/sh\n# agent ${v}\n${'#'.repeat(4096)}\n`, { mode: 0o755 });
}
// Light agents connect without identities (a thousand enrolments would cost ~0.4 s of key
// generation each): what is measured is the master's rollout work, not enrolment.
const master = await launchMaster(['--data', join(dir, 'master'), '--mqtt-port', '0', '--http-port', '0', '--agent-dir', agentDir, '--broker-max-connections', String(N + 100), '--allow-anonymous-mqtt', 'on']);
let agents: FakeAgents | null = null;
try {
  const ids = Array.from({ length: N }, (_, i) => `bench-agent-${String(i).padStart(4, '0')}`);
  agents = await FakeAgents.connect(master.brokerUrl, ids, { labels: () => ({ fleet: 'bench' }), agentVersion: 'v1', hostApps: true, concurrency: 200 });
  await waitForNodesOnline(master.httpUrl, ids);
  console.log(`${N} agents online`);
  const headers = { 'content-type': 'application/json', ...adminHeaders(master.httpUrl) };
  const get = async (path: string) => (await fetch(`${master.httpUrl}${path}`, { headers })).json();
  const policy = { selector: { fleet: 'bench' }, canary: Number(values.canary), waves: { base, factor }, maxFailuresPercent: 1, stepTimeoutMs: 120_000 };

  /** Starts a rollout and waits for its end: its record, how long, and the master's usage meanwhile. */
  const measure = async (body: Record<string, unknown>) => {
    const usage = new UsageWindow({ master: master.node.child.pid! }, 100).start();
    const t0 = Date.now();
    const res = await fetch(`${master.httpUrl}/rollouts`, { method: 'POST', headers, body: JSON.stringify({ ...policy, ...body }) });
    if (res.status !== 201) throw new Error(`POST /rollouts: ${res.status} ${await res.text()}`);
    const { id } = (await res.json()) as { id: string };
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    let r: any;
    for (;;) {
      r = await get(`/rollouts/${id}`);
      if (!['running', 'aborting'].includes(r.state)) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const ms = Date.now() - t0;
    const { usage: u } = usage.stop();
    return {
      state: r.state, waveSizes: (r.plan as string[][]).map((w) => w.length), counts: r.counts, rolloutMs: ms, sentBytes: r.bytes,
      master: { cpuSec: Number(u.master!.cpuSec.toFixed(2)), peakRssMB: Math.round(u.master!.peakRssMB), meanRssMB: Math.round(u.master!.meanRssMB) },
    };
  };

  const result: Record<string, unknown> = { at: new Date().toISOString(), agents: N, canary: Number(values.canary), waves: { base, factor } };
  if (kinds.includes('agent')) {
    result.agent = await measure({ kind: 'agent', version: 'v2' });
    console.log('agent rollout', JSON.stringify(result.agent));
  }
  if (kinds.includes('app')) {
    await (await prepareSubmission(master.httpUrl, join(repoRoot, 'bench/apps/placement.ts'), { name: 'placement' }))();
    // Placed on every agent, each reporting it running.
    for (;;) {
      const a = await get('/apps/placement');
      const nodes = Object.values(a.nodes ?? {}) as { state: string }[];
      if (nodes.length === N && nodes.every((n) => n.state === 'running')) break;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    console.log(`placement running on ${N} agents`);
    const bundle = Buffer.from(await bundleApp(join(repoRoot, 'bench/apps/placement-v2.ts'))).toString('base64');
    result.app = await measure({ kind: 'app', app: 'placement', bundle });
    console.log('application rollout', JSON.stringify(result.app));
  }
  console.log(JSON.stringify(result, null, 2));
  await mkdir(resultsDir, { recursive: true });
  await writeFile(join(resultsDir, 'rollout-latest.json'), `${JSON.stringify(result, null, 2)}\n`);
} finally {
  await agents?.close();
  await master.node.stop();
  await rm(dir, { recursive: true, force: true });
}
