/**
 * Baseline (c): local mode of the edge-to-cloud app (LocalRuntime in one child process, no
 * broker): the processing ceiling, for each device count of the throughput scenario.
 */
import { join } from 'node:path';
import { loadToParams, unpacedLoad } from '../apps/devices.js';
import type { SinkFigures } from '../apps/figures.js';
import { BenchChild } from '../lib/child.js';
import type { BenchContext } from '../lib/context.js';
import { benchDir, repoRoot } from '../lib/paths.js';
import { UsageWindow } from '../lib/procs.js';
import { rateOf, summarizeRuns, type RunFigures } from '../lib/results.js';
import { int } from '../lib/table.js';
import { E2C_APP } from './scenario.js';

export async function measureLocal(ctx: BenchContext): Promise<void> {
  const o = ctx.options;
  const child = BenchChild.start('local-run', join(benchDir, 'children', 'local-run.ts'));
  try {
    await child.next('ready', 30_000);
    for (const devices of o.devices) {
      const load = unpacedLoad(devices, o.localRecords, o.eventRate);
      const records = load.devices * load.ticks;
      const params = { ...loadToParams(load), name: 'local', windowMs: '1000', output: join(ctx.dir, 'local.json') };
      const runs: RunFigures[] = [];
      // One untimed warm-up: the app module is loaded once per process, then runs warm.
      await child.request({ type: 'run', app: join(repoRoot, E2C_APP), params }, 'ran', o.runTimeoutMs);
      for (let i = 0; i < o.runs; i++) {
        const window = new UsageWindow({ local: child.pid }).start();
        const t0 = Date.now();
        const ran = await child.request({ type: 'run', app: join(repoRoot, E2C_APP), params }, 'ran', o.runTimeoutMs).catch((err: Error) => {
          window.stop();
          throw err;
        });
        const f = ran.figures as SinkFigures;
        const { usage, cpuSecTotal } = window.stop([f.firstInput, f.lastArrival]);
        if (f.records !== records) throw new Error(`local mode, ${devices} devices: ${f.records} of ${records} records in the windows`);
        runs.push({ records, rate: rateOf(records, f.firstInput, f.lastArrival), latency: null, usage, cpuSecTotal, wallMs: Date.now() - t0 });
      }
      const row = ctx.add(summarizeRuns({ scenario: 'baselines', case: `local mode, ${int(devices)} device${devices > 1 ? 's' : ''}`, records, devices, role: 'local' }, runs));
      ctx.say(`  local mode, ${int(devices)} devices: median ${int(row.rate!.median)} records/s`);
    }
  } finally {
    await child.stop();
  }
}
