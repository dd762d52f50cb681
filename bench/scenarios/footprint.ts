/**
 * Scenario 5, footprint: a fresh default cluster (its agent has run nothing before). The agent's
 * RSS (/proc VmRSS, sampled every 50 ms, and VmHWM) idle for a while right after it registered,
 * then while the throughput pipeline runs paced at 1,000 records/s (10 devices at 100 Hz); records
 * per CPU-second of the agent and of the whole cluster.
 */
import { pacedLoad } from '../apps/devices.js';
import { UsageWindow } from '../lib/procs.js';
import { summarizeRuns } from '../lib/results.js';
import { fixed, int } from '../lib/table.js';
import { sleep } from '../lib/submit.js';
import { runE2c } from './e2c.js';
import type { Scenario } from './scenario.js';

const RATE = 1000;
const DEVICES = 10;

export const footprint: Scenario = {
  name: 'footprint',
  title: '5. Footprint: agent RSS idle and at 1,000 records/s',
  clusters: ['footprint'],
  async run(ctx) {
    const o = ctx.options;
    const cluster = await ctx.cluster('footprint');
    const window = new UsageWindow({ agent: cluster.pids.agent }).start();
    await sleep(o.idleSeconds * 1000);
    const idle = window.stop().usage;
    ctx.say(`  agent idle: RSS mean ${fixed(idle.agent.meanRssMB, 1)} MB, peak ${fixed(idle.agent.peakRssMB, 1)} MB, CPU ${fixed(idle.agent.cpuSec, 3)} s in ${o.idleSeconds} s`);
    ctx.add({
      scenario: 'footprint', case: 'agent idle', records: 0, runs: 1, rate: null, latency: null, recordsPerCpuSec: null, processes: idle,
      extra: { agentRssMB: idle.agent.meanRssMB, agentPeakRssMB: idle.agent.peakRssMB, agentCpuShare: Number(fixed(idle.agent.cpuSec / o.idleSeconds, 4)) },
      headline: `agent RSS ${fixed(idle.agent.meanRssMB, 0)} MB`,
    });

    const load = pacedLoad(DEVICES, RATE, o.footprintSeconds);
    const r = await runE2c(ctx, 'footprint', { tag: 'footprint', load, windowMs: 1000 });
    const seconds = load.ticks / load.rateHz;
    const agent = r.usage.agent;
    ctx.say(`  agent at ${int(RATE)} records/s: RSS mean ${fixed(agent.meanRssMB, 1)} MB, peak ${fixed(agent.peakRssMB, 1)} MB, CPU ${fixed(agent.cpuSec, 2)} s (${int(r.records / agent.cpuSec)} records per agent CPU-second)`);
    const row = ctx.add(summarizeRuns({ scenario: 'footprint', case: `agent at ${int(RATE)} records/s`, records: r.records, devices: DEVICES, offeredRate: RATE }, [r], { rate: false }));
    row.extra = {
      agentRssMB: agent.meanRssMB,
      agentPeakRssMB: agent.peakRssMB,
      agentCpuShare: Number(fixed(agent.cpuSec / seconds, 4)),
      recordsPerAgentCpuSec: Math.round(r.records / agent.cpuSec),
    };
    row.headline = `agent RSS ${fixed(agent.meanRssMB, 0)} MB mean, ${fixed(agent.peakRssMB, 0)} MB peak; ${fixed((agent.cpuSec / seconds) * 100, 1)} % of a core; ${int(r.records / agent.cpuSec)} records per agent CPU-s`;
  },
};
