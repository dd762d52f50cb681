/**
 * Local mode of the example applications (examples/wordcount.ts, examples/sensor-windows.ts) on
 * generated inputs: in-process (loadApp + LocalRuntime, warm) and, unless --cli-runs 0, end to end
 * through `tributary run` in a child process. The earlier local-mode benchmark, kept as a scenario.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { BenchContext } from '../lib/context.js';
import { measureCliStartup, runInProcess, runViaCli, type ModeResult } from '../lib/modes.js';
import { fixed, int } from '../lib/table.js';
import { sensorWindows } from './examples/sensor-windows.js';
import { wordcount } from './examples/wordcount.js';
import type { Scenario } from './scenario.js';

function toRow(r: ModeResult) {
  return {
    scenario: 'examples',
    case: `${r.scenario}, ${r.mode === 'cli' ? 'CLI child process' : 'in-process'}`,
    records: r.records,
    runs: r.runs,
    rate: r.recordsPerSec,
    latency: null,
    recordsPerCpuSec: r.cpu.median > 0 ? r.records / r.cpu.median : null,
    processes: { [r.mode === 'cli' ? 'tributary run' : 'bench']: { cpuSec: r.cpu.median, peakRssMB: r.peakRssMB, meanRssMB: NaN } },
    headline: r.startupOverheadMs ? `start-up ${int(r.startupOverheadMs.median)} ms` : undefined,
  };
}

export const examples: Scenario = {
  name: 'examples',
  title: 'Local mode of the example apps (wordcount, sensor-windows)',
  clusters: [],
  async run(ctx: BenchContext) {
    const o = ctx.options;
    const results: ModeResult[] = [];
    const inputs: Record<string, unknown>[] = [];
    await mkdir(join(ctx.dir, 'examples'), { recursive: true });
    for (const app of [wordcount, sensorWindows]) {
      const g0 = performance.now();
      const input = await app.prepare(join(ctx.dir, 'examples'), { quick: o.quick, records: app === wordcount ? o.words : o.readings });
      inputs.push({ scenario: app.name, records: input.records, unit: input.unit, bytes: input.inputBytes, generateMs: Math.round(performance.now() - g0), generator: input.generator });
      const r = await runInProcess(app, input, join(ctx.dir, 'examples'), { runs: o.runs, warmup: 1, batchSize: o.batchSize });
      results.push(r);
      ctx.add(toRow(r));
      ctx.say(`  ${app.name} in-process: median ${int(r.recordsPerSec.median)} ${input.unit}/s`);
      if (o.cliRuns > 0) {
        const c = await runViaCli(app, input, join(ctx.dir, 'examples'), { runs: o.cliRuns, batchSize: o.batchSize });
        results.push(c);
        ctx.add(toRow(c));
        ctx.say(`  ${app.name} CLI: median ${int(c.recordsPerSec.median)} ${input.unit}/s end to end, start-up ${int(c.startupOverheadMs!.median)} ms`);
      }
    }
    const cliStartup = o.cliRuns > 0 ? await measureCliStartup(3) : null;
    if (cliStartup) ctx.say(`  \`tributary --version\` alone: median ${fixed(cliStartup.median / 1000, 2)} s`);
    ctx.raw.examples = { inputs, results, cliVersionStartupMs: cliStartup };
  },
};
