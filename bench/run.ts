/**
 * The benchmark suite (issue 5): every scenario of bench/scenarios/, baselines first, then a
 * table of records/s, latency, CPU and memory per process, with the ratio of each figure to the
 * transport ceiling, to Node-RED and to local mode measured in the same invocation, and the
 * issue's targets (printed, never asserted). See bench/README.md.
 *
 *   npm run bench                          # full run
 *   npm run bench -- --quick               # every scenario briefly (under 3 minutes)
 *   npm run bench -- --only latency        # one scenario (repeatable)
 *   npm run bench -- --help
 */
// Before any logger exists; cluster processes log at info to their pipes (readiness lines).
process.env.TRIBUTARY_LOG_LEVEL = 'silent';

import { rmSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { BenchContext } from './lib/context.js';
import { environment } from './lib/env.js';
import { USAGE, parseOptions, type BenchOptions } from './lib/options.js';
import { repoRoot, resultsDir } from './lib/paths.js';
import { processTable, ratiosOf, resultsTable, targets, targetsTable } from './lib/report.js';
import { fixed } from './lib/table.js';
import { scenarios } from './scenarios/index.js';

const names = scenarios.map((s) => s.name);
let parsed: BenchOptions | 'help';
try {
  parsed = parseOptions(process.argv.slice(2), names);
} catch (err) {
  console.error(`${(err as Error).message}\n\n${USAGE(names)}`);
  process.exit(2);
}
if (parsed === 'help') {
  console.log(USAGE(names));
  process.exit(0);
}
const options = parsed;

// Every child process is killed on exit (lib/child.ts, cli/src/launcher.ts): make signals and the
// deadline exits, so that nothing outlives the benchmark.
process.once('SIGINT', () => process.exit(130));
process.once('SIGTERM', () => process.exit(143));
setTimeout(() => {
  console.error(`benchmark deadline (${options.deadlineMs / 60_000} min) reached: stopping`);
  process.exit(1);
}, options.deadlineMs).unref();

const selected = scenarios.filter((s) => !options.only || options.only.includes(s.name));
const env = environment();
// Data dirs, bundles and outputs go to a temp dir (TRIBUTARY_BENCH_TMP to put it elsewhere).
const ctx = await BenchContext.create(options, process.env.TRIBUTARY_BENCH_TMP ?? tmpdir());
// Interrupted or past the deadline: the temp dir goes too (children are SIGKILLed just before).
if (!options.keep) process.once('exit', () => rmSync(ctx.dir, { recursive: true, force: true }));
ctx.say(`tributary benchmark suite — ${env.date}, commit ${env.commit ?? 'unknown'}${env.dirty ? ' (+ uncommitted changes)' : ''}`);
ctx.say(`node ${env.node}, ${env.cpuCount} × ${env.cpuModel}${options.quick ? ', --quick' : ''}; scenarios: ${selected.map((s) => s.name).join(', ')}`);

const started = performance.now();
try {
  for (const [i, s] of selected.entries()) {
    const t0 = performance.now();
    ctx.say(`\n${s.title}`);
    await ctx.attempt(s.name, `scenario ${s.name}`, () => s.run(ctx));
    // Clusters nobody further down needs are stopped, so they do not steal CPU from later runs.
    await ctx.releaseClusters(new Set(selected.slice(i + 1).flatMap((n) => n.clusters)));
    ctx.say(`  (${fixed((performance.now() - t0) / 1000, 1)} s)`);
  }
} finally {
  await ctx.releaseClusters();
  if (options.keep) ctx.say(`\ntemp dir kept: ${ctx.dir}`);
  else await rm(ctx.dir, { recursive: true, force: true });
}

const ts = targets(ctx);
ctx.say(`\nResults (records/s = records / (last - first arrival on the receiving side); ratios = this row / the baseline's median${options.quick ? '; --quick: short runs, noisy' : ''})\n`);
ctx.say(resultsTable(ctx));
ctx.say('\nCPU seconds (while data flowed, median over runs) and memory per process\n');
ctx.say(processTable(ctx));
ctx.say('\nTargets of issue 14 (and issue 5\'s footprint; reported, not asserted)\n');
ctx.say(targetsTable(ts));
for (const e of ctx.errors) ctx.say(`\nFAILED (${e.scenario}): ${e.message}`);
const totalMs = performance.now() - started;
ctx.say(`\ntotal ${fixed(totalMs / 1000, 1)} s`);

if (options.save) {
  const report = {
    benchmark: 'suite',
    environment: env,
    options,
    scenarios: selected.map((s) => s.name),
    rows: ctx.rows.map((r) => ({ ...r, ratios: ratiosOf(ctx, r) })),
    targets: ts,
    errors: ctx.errors,
    raw: ctx.raw,
    totalMs: Math.round(totalMs),
  };
  await mkdir(resultsDir, { recursive: true });
  const file = join(resultsDir, `suite-${env.date.replace(/[:.]/g, '-')}${options.quick ? '-quick' : ''}.json`);
  const text = JSON.stringify(report, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2) + '\n';
  await writeFile(file, text);
  await writeFile(join(resultsDir, 'suite-latest.json'), text);
  ctx.say(`results: ${relative(repoRoot, file)} (and bench/results/suite-latest.json)`);
}
process.exit(ctx.errors.length > 0 ? 1 : 0);
