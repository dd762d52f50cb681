/** Edge-to-cloud runs on a cluster, shared by the throughput, latency, durability and footprint scenarios. */
import { join } from 'node:path';
import { loadToParams, totalRecords, type DeviceLoad } from '../apps/devices.js';
import type { BenchContext, ClusterName } from '../lib/context.js';
import { repoRoot } from '../lib/paths.js';
import { rateOf, type RunFigures } from '../lib/results.js';
import { prepareBundle } from '../lib/submit.js';
import { E2C_APP } from './scenario.js';

export interface E2cRun {
  /** Short tag for the app id. */
  tag: string;
  load: DeviceLoad;
  /** Tumbling window of the cloud aggregate; 0: no window, per-record latency at the sink. */
  windowMs: number;
  warmupMs?: number;
}

/** One run: submit, wait for the sink's figures, check every record arrived. */
export async function runE2c(ctx: BenchContext, cluster: ClusterName, r: E2cRun): Promise<RunFigures> {
  const app = join(repoRoot, E2C_APP);
  await prepareBundle(app);
  const c = await ctx.cluster(cluster);
  const expected = totalRecords(r.load);
  const seconds = r.load.paced ? r.load.ticks / r.load.rateHz : 0;
  const res = await c.run(app, { ...loadToParams(r.load), name: r.tag, windowMs: String(r.windowMs), warmupMs: String(r.warmupMs ?? 1000) }, ctx.options.runTimeoutMs + seconds * 1000);
  const f = res.figures;
  if (f.records !== expected) throw new Error(`${r.tag} on cluster ${cluster}: ${f.records} of ${expected} records reached the sink`);
  return {
    records: f.records,
    rate: rateOf(f.records, f.firstInput, f.lastArrival),
    latency: f.latency,
    usage: res.usage,
    cpuSecTotal: res.cpuSecTotal,
    wallMs: res.wallMs,
  };
}

export async function repeat(n: number, each: (i: number) => Promise<RunFigures>): Promise<RunFigures[]> {
  const runs: RunFigures[] = [];
  for (let i = 0; i < n; i++) runs.push(await each(i));
  return runs;
}
