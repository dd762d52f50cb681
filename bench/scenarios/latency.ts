/**
 * Scenario 2, latency at fixed loads: the fleet paced at 1k, 10k and 100k records/s in all
 * (10 devices) on the default cluster; the cloud sink measures, per record, arrival time minus
 * event time (p50/p99/max) after a warm-up. No window in this variant: a window holds records
 * back by its size, which would measure the window, not the system.
 */
import { pacedLoad } from '../apps/devices.js';
import { summarizeRuns } from '../lib/results.js';
import { int } from '../lib/table.js';
import { runE2c } from './e2c.js';
import type { Scenario } from './scenario.js';

const DEVICES = 10;

export const latency: Scenario = {
  name: 'latency',
  title: '2. Latency at fixed loads (event time -> sink)',
  clusters: ['default'],
  async run(ctx) {
    const o = ctx.options;
    for (const rate of o.latencyRates) {
      const load = pacedLoad(DEVICES, rate, o.latencyWarmupSec + o.latencySeconds);
      const r = await runE2c(ctx, 'default', { tag: `lat-${rate}`, load, windowMs: 0, warmupMs: o.latencyWarmupSec * 1000 });
      ctx.say(`  ${int(rate)} records/s: p50 ${r.latency?.p50} ms, p99 ${r.latency?.p99} ms, max ${r.latency?.max} ms (delivered at ${int(r.rate)} records/s)`);
      ctx.add(summarizeRuns({ scenario: 'latency', case: `${int(rate)} records/s`, records: r.records, devices: DEVICES, offeredRate: rate }, [r], { rate: false }));
    }
  },
};
