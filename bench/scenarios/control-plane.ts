/**
 * Scenario 6, control-plane scale:
 *  - placement: a real master (child process) with N light agents registered (bench/lib/
 *    fake-agents.ts); from submit (POST /apps, bundle pre-built) until every agent has received a
 *    desired state naming the app on its retained control topic; then kill, until every agent has
 *    been told it is gone. Master CPU and peak RSS over each placement.
 *  - clock service: cloud-core's ClockService.onReport in this process with 1,000 placed tasks,
 *    each on its own node reporting once per round (as 1,000 agents' heartbeats in one second).
 */
import { join } from 'node:path';
import { createLogger, type TaskPlacement, type TaskReport, type Transport } from '@tributary/shared';
import { ClockService } from '../../cloud-core/src/master/clock-service.js';
import { launchMaster, waitForNodesOnline } from '../../cli/src/launcher.js';
import { stopNode } from '../lib/cluster.js';
import type { BenchContext } from '../lib/context.js';
import { FakeAgents } from '../lib/fake-agents.js';
import { repoRoot } from '../lib/paths.js';
import { UsageWindow } from '../lib/procs.js';
import { summarizeRuns, type RunFigures } from '../lib/results.js';
import { spread } from '../lib/stats.js';
import { fixed, int } from '../lib/table.js';
import { kill, prepareBundle, sleep, submit } from '../lib/submit.js';
import type { Scenario } from './scenario.js';

const PLACEMENT_APP = join(repoRoot, 'bench/apps/placement.ts');

/** Until `done()` or the timeout; returns false on timeout. */
async function until(done: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) return false;
    await sleep(5);
  }
  return true;
}

async function measurePlacement(ctx: BenchContext): Promise<void> {
  const o = ctx.options;
  const N = o.agents;
  await prepareBundle(PLACEMENT_APP);
  // Light agents log in without enrolling (anonymous admitted on this master): what is measured is
  // registration and placement, not N enrolments (those cost ~0.4 s of key generation each).
  const master = await launchMaster(['--data', join(ctx.dir, 'control-master'), '--mqtt-port', '0', '--http-port', '0', '--broker-max-connections', String(N + 100), '--allow-anonymous-mqtt', 'on']);
  let agents: FakeAgents | null = null;
  try {
    const ids = Array.from({ length: N }, (_, i) => `light-${String(i).padStart(5, '0')}`);
    const placedAt = new Map<string, Map<string, number>>();
    const removedAt = new Map<string, Map<string, number>>();
    const t0 = Date.now();
    agents = await FakeAgents.connect(master.brokerUrl, ids, {
      labels: () => ({ fleet: 'bench' }),
      onDesiredState: (id, state, at) => {
        const named = new Set(state.apps.map((a) => a.app));
        for (const app of named) if (!placedAt.get(app)?.has(id)) (placedAt.get(app) ?? placedAt.set(app, new Map()).get(app)!).set(id, at);
        for (const [app, m] of placedAt) if (!named.has(app) && m.has(id) && !removedAt.get(app)?.has(id)) (removedAt.get(app) ?? removedAt.set(app, new Map()).get(app)!).set(id, at);
      },
    });
    await waitForNodesOnline(master.httpUrl, ids, 1200);
    const registerMs = Date.now() - t0;
    ctx.say(`  ${int(N)} light agents registered and online in ${fixed(registerMs / 1000, 1)} s`);
    const runs: RunFigures[] = [];
    const place: number[] = [];
    const unplace: number[] = [];
    const post: number[] = [];
    for (let i = 0; i < o.placements; i++) {
      const app = `placement-${i + 1}`;
      const window = new UsageWindow({ master: master.node.child.pid ?? NaN }).start();
      const s0 = Date.now();
      await submit(master.httpUrl, PLACEMENT_APP, { name: app });
      post.push(Date.now() - s0);
      const placed = await until(() => (placedAt.get(app)?.size ?? 0) >= N, o.runTimeoutMs);
      const arrivals = [...(placedAt.get(app)?.values() ?? [])];
      if (!placed) {
        window.stop();
        throw new Error(`placement ${app}: ${arrivals.length} of ${N} agents told within ${o.runTimeoutMs / 1000} s`);
      }
      place.push(Math.max(...arrivals) - s0);
      const { usage, cpuSecTotal } = window.stop();
      runs.push({ records: 0, rate: NaN, latency: null, usage, cpuSecTotal, wallMs: Math.max(...arrivals) - s0 });
      const k0 = Date.now();
      await kill(master.httpUrl, app);
      if (await until(() => (removedAt.get(app)?.size ?? 0) >= N, o.runTimeoutMs)) unplace.push(Math.max(...removedAt.get(app)!.values()) - k0);
      ctx.say(`  placement ${i + 1}: every agent told in ${int(place[i])} ms (POST answered in ${int(post[i])} ms, median agent ${int(spread(arrivals.map((a) => a - s0)).median)} ms); removal told in ${unplace[i] === undefined ? '—' : int(unplace[i])} ms`);
    }
    const row = ctx.add(summarizeRuns({ scenario: 'control-plane', case: `place an app on ${int(N)} light agents`, records: 0 }, runs, { rate: false }));
    row.recordsPerCpuSec = null;
    const p = spread(place);
    row.headline = `place ${int(p.median)} ms (${int(p.min)}–${int(p.max)}); registration ${fixed(registerMs / 1000, 1)} s`;
    row.extra = { agents: N, registerMs, placeMsMedian: p.median, placeMsMin: p.min, placeMsMax: p.max, postMsMedian: spread(post).median, unplaceMsMedian: unplace.length ? spread(unplace).median : null };
  } finally {
    await agents?.close();
    await stopNode(master.node);
  }
}

function measureClockService(ctx: BenchContext, tasks = 1000): void {
  const transport = { publish: async () => {} } as unknown as Transport;
  const svc = new ClockService(transport, createLogger({ level: 'silent' }));
  const placed: TaskPlacement[] = Array.from({ length: tasks }, (_, i) => ({ processor: 0, index: i, node: `light-${i}` }));
  const report = (i: number, clock: number): TaskReport[] => [{ processor: 0, index: i, in: 0, out: 0, late: 0, rejected: 0, queued: 0, maxQueued: 0, inputClock: clock }];
  const base = Date.now();
  const round = (r: number) => {
    for (let i = 0; i < tasks; i++) svc.onReport('bench', placed, report(i, base + r * 1000 + i));
  };
  for (let r = 0; r < 5; r++) round(r);
  const rounds = ctx.options.clockRounds;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (let r = 5; r < 5 + rounds; r++) round(r);
  const ms = (performance.now() - t0) / rounds;
  const cpu = process.cpuUsage(cpu0);
  const usPerReport = (ms * 1000) / tasks;
  ctx.say(`  clock service, ${int(tasks)} tasks: ${fixed(ms, 2)} ms per round of ${int(tasks)} reports (${fixed(usPerReport, 2)} µs per report), ${fixed(ms / 10, 1)} % of a core at one heartbeat per node per second`);
  ctx.add({
    scenario: 'control-plane', case: `clock service, ${int(tasks)} reporting tasks`, records: 0, runs: rounds, rate: null, latency: null, recordsPerCpuSec: null,
    processes: { bench: { cpuSec: Number(fixed((cpu.user + cpu.system) / 1e6, 3)), peakRssMB: NaN, meanRssMB: NaN } },
    headline: `${fixed(ms, 2)} ms per round of ${int(tasks)} reports (${fixed(usPerReport, 2)} µs each)`,
    extra: { tasks, rounds, msPerRound: Number(fixed(ms, 3)), usPerReport: Number(fixed(usPerReport, 3)), coreShareAt1Hz: Number(fixed(ms / 1000, 4)) },
  });
}

export const controlPlane: Scenario = {
  name: 'control-plane',
  title: '6. Control plane: placement on light agents, clock service with 1,000 tasks',
  clusters: [],
  async run(ctx) {
    measureClockService(ctx);
    await measurePlacement(ctx);
  },
};
