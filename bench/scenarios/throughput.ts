/**
 * Scenario 1, edge-to-cloud throughput: the fleet on the agent (replay log on, exactly-once on:
 * the default cluster) -> broker -> worker: keyBy(device) -> 1 s tumbling window -> sink, for
 * 1, 10 and 1,000 devices, unpaced (as fast as credits allow).
 */
import { unpacedLoad } from '../apps/devices.js';
import { summarizeRuns } from '../lib/results.js';
import { int } from '../lib/table.js';
import { repeat, runE2c } from './e2c.js';
import type { Scenario } from './scenario.js';

export const throughput: Scenario = {
  name: 'throughput',
  title: '1. Edge-to-cloud throughput (replay log + exactly-once on)',
  clusters: ['default'],
  async run(ctx) {
    const o = ctx.options;
    for (const devices of o.devices) {
      const load = unpacedLoad(devices, o.records, o.eventRate);
      const runs = await repeat(o.runs, async (i) => {
        const r = await runE2c(ctx, 'default', { tag: `tp-d${devices}`, load, windowMs: 1000 });
        ctx.say(`  ${int(devices)} devices, run ${i + 1}: ${int(r.rate)} records/s`);
        return r;
      });
      ctx.add(summarizeRuns({ scenario: 'throughput', case: `${int(devices)} device${devices > 1 ? 's' : ''}`, records: runs[0].records, devices }, runs));
    }
  },
};
