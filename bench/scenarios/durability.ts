/**
 * Scenario 4, durability cost: the throughput pipeline with 10 devices on three clusters that
 * differ only in their environment: replay log off (and no checkpoints), replay log on without
 * checkpoints, and replay log on + exactly-once (the default cluster; the throughput scenario's
 * 10-device row is reused when it ran in this invocation); then that last one with the agent over
 * TLS, as a device that is not on the master's host connects (what TLS costs), and with the
 * worker hosting the application in a thread instead of inline (what that isolation costs).
 */
import { unpacedLoad } from '../apps/devices.js';
import type { BenchContext, ClusterName } from '../lib/context.js';
import { summarizeRuns, type Row } from '../lib/results.js';
import { fixed, int } from '../lib/table.js';
import { repeat, runE2c } from './e2c.js';
import type { Scenario } from './scenario.js';

const DEVICES = 10;

async function measure(ctx: BenchContext, cluster: ClusterName, label: string): Promise<Row> {
  const load = unpacedLoad(DEVICES, ctx.options.records, ctx.options.eventRate);
  const runs = await repeat(ctx.options.runs, async (i) => {
    const r = await runE2c(ctx, cluster, { tag: `dur-${cluster}`, load, windowMs: 1000 });
    ctx.say(`  ${label}, run ${i + 1}: ${int(r.rate)} records/s`);
    return r;
  });
  return summarizeRuns({ scenario: 'durability', case: label, records: runs[0].records, devices: DEVICES }, runs);
}

/** Puts `row`'s rate relative to the shipped configuration's (`eo`) first in its headline. */
function vsShipped(row: Row, eo: Row, shipped: string): void {
  if (!eo.rate || !row.rate) return;
  row.headline = [`${fixed((row.rate.median / eo.rate.median) * 100, 0)} % of the same ${shipped}`, row.headline].filter(Boolean).join('; ');
}

export const durability: Scenario = {
  name: 'durability',
  title: '4. Durability cost (10 devices)',
  clusters: ['no-durability', 'replay-only', 'default', 'agent-tls', 'worker-thread'],
  async run(ctx) {
    const off = ctx.add(await measure(ctx, 'no-durability', 'replay log off'));
    await ctx.stopCluster('no-durability');
    const on = ctx.add(await measure(ctx, 'replay-only', 'replay log on'));
    await ctx.stopCluster('replay-only');
    const reused = ctx.find('throughput', (r) => r.devices === DEVICES);
    const eoLabel = `replay log on + exactly-once (checkpoint every ${ctx.options.checkpointMs} ms)`;
    const eo = ctx.add(reused ? { ...reused, scenario: 'durability', case: eoLabel, notes: [...(reused.notes ?? []), 'same runs as throughput, 10 devices'] } : await measure(ctx, 'default', eoLabel));
    const tls = ctx.add(await measure(ctx, 'agent-tls', `${eoLabel}, agent over TLS`));
    await ctx.stopCluster('agent-tls');
    const thread = ctx.add(await measure(ctx, 'worker-thread', `${eoLabel}, worker thread isolation`));
    await ctx.stopCluster('worker-thread');
    for (const row of [on, eo, tls, thread]) {
      const vs = off.rate && row.rate ? row.rate.median / off.rate.median : null;
      row.extra = { ...row.extra, vsReplayLogOff: vs === null ? null : Number(fixed(vs, 3)) };
      row.headline = vs === null ? undefined : `${fixed(vs * 100, 0)} % of replay log off`;
    }
    vsShipped(tls, eo, 'over plain loopback');
    vsShipped(thread, eo, 'with the worker inline');
  },
};
