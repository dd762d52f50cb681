/**
 * Local-mode benchmark: records/s of the example applications, in-process (loadApp +
 * LocalRuntime) and end-to-end through the CLI. See bench/README.md.
 *
 *   npm run bench                      # full run
 *   npm run bench -- --quick           # small inputs, fewer runs (well under a minute)
 *   npm run bench -- --only wordcount  # one scenario
 */
// Before any logger exists (imports create none); the in-process runs also pass level 'silent'.
process.env.TRIBUTARY_LOG_LEVEL = 'silent';

import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import { environment } from './lib/env.js';
import { measureCliStartup, runInProcess, runViaCli, type ModeResult } from './lib/modes.js';
import { repoRoot, resultsDir } from './lib/paths.js';
import type { Spread } from './lib/stats.js';
import { fixed, int, renderTable } from './lib/table.js';
import { scenarios } from './scenarios/index.js';

const USAGE = `usage: npm run bench -- [options]

  --quick              small inputs (200k words / 200k readings), 3 runs, 1 CLI run
  --only <scenario>    run one scenario (repeatable): ${scenarios.map((s) => s.name).join(', ')}
  --runs <n>           timed in-process runs per scenario (default 5, quick 3), after 1 warm-up
  --cli-runs <n>       end-to-end CLI runs per scenario (default 2, quick 1; 0 skips them)
  --words <n>          words in the wordcount input (default 2,000,000, quick 200,000)
  --readings <n>       readings in the sensor-windows input (default 1,000,000, quick 200,000)
  --batch-size <n>     LocalRuntime batch size (default 1024, the CLI default)
  --keep               keep the generated inputs (the temp dir is printed)
  --no-save            print only; write nothing under bench/results/
  -h, --help           this text`;

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string', multiple: true },
    runs: { type: 'string' },
    'cli-runs': { type: 'string' },
    words: { type: 'string' },
    readings: { type: 'string' },
    'batch-size': { type: 'string' },
    keep: { type: 'boolean', default: false },
    'no-save': { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
  strict: true,
});

if (values.help) {
  console.log(USAGE);
  process.exit(0);
}

function count(name: string, raw: string | undefined, fallback: number, min = 1): number {
  if (raw === undefined) return fallback;
  const n = Number(raw.replace(/[_,]/g, ''));
  if (!Number.isSafeInteger(n) || n < min) {
    console.error(`--${name} expects an integer >= ${min}, got ${JSON.stringify(raw)}\n\n${USAGE}`);
    process.exit(2);
  }
  return n;
}

const quick = values.quick;
const options = {
  quick,
  runs: count('runs', values.runs, quick ? 3 : 5),
  warmup: 1,
  cliRuns: count('cli-runs', values['cli-runs'], quick ? 1 : 2, 0),
  batchSize: count('batch-size', values['batch-size'], 1024),
  sizes: {
    wordcount: count('words', values.words, quick ? 200_000 : 2_000_000),
    'sensor-windows': count('readings', values.readings, quick ? 200_000 : 1_000_000),
  } as Record<string, number>,
  only: values.only ?? null,
};

const unknown = (options.only ?? []).filter((n) => !scenarios.some((s) => s.name === n));
if (unknown.length) {
  console.error(`unknown scenario(s): ${unknown.join(', ')}; known: ${scenarios.map((s) => s.name).join(', ')}`);
  process.exit(2);
}
const selected = scenarios.filter((s) => !options.only || options.only.includes(s.name));

const env = environment();
const say = (line: string) => process.stdout.write(line + '\n');
say(`tributary local-mode benchmark — ${env.date}, commit ${env.commit ?? 'unknown'}${env.dirty ? ' (+ uncommitted changes)' : ''}`);
say(`node ${env.node}, ${env.cpuCount} × ${env.cpuModel}${quick ? ', --quick' : ''}`);

const dir = await mkdtemp(join(tmpdir(), 'tributary-bench-'));
const results: ModeResult[] = [];
const inputs: Record<string, unknown>[] = [];
let cliStartup: Spread | null = null;
const started = performance.now();
try {
  for (const s of selected) {
    const g0 = performance.now();
    const input = await s.prepare(dir, { quick, records: options.sizes[s.name] });
    const genMs = performance.now() - g0;
    inputs.push({ scenario: s.name, app: s.app, records: input.records, unit: input.unit, bytes: input.inputBytes, generateMs: Math.round(genMs), generator: input.generator });
    say(`\n${s.name}: generated ${int(input.records)} ${input.unit} (${fixed(input.inputBytes / 2 ** 20, 1)} MB) in ${fixed(genMs / 1000, 1)} s`);

    const r = await runInProcess(s, input, dir, options);
    results.push(r);
    say(`  in-process: ${r.wallMs.map((ms) => `${Math.round(ms)} ms`).join(', ')} -> median ${int(r.recordsPerSec.median)} ${input.unit}/s (output ok: ${describeVerify(r)})`);

    if (options.cliRuns > 0) {
      const c = await runViaCli(s, input, dir, { runs: options.cliRuns, batchSize: options.batchSize });
      results.push(c);
      say(`  cli:        ${c.wallMs.map((ms) => `${Math.round(ms)} ms`).join(', ')} -> median ${int(c.recordsPerSec.median)} ${input.unit}/s end to end, start-up overhead ${int(c.startupOverheadMs!.median)} ms`);
    }
  }
  if (options.cliRuns > 0 && selected.length > 0) cliStartup = await measureCliStartup(3);
} finally {
  if (values.keep) say(`\ninputs kept in ${dir}`);
  else await rm(dir, { recursive: true, force: true });
}

function describeVerify(r: ModeResult): string {
  return Object.entries(r.verify.details).map(([k, v]) => `${k}=${int(v)}`).join(' ');
}

say('');
say(renderTable(
  ['scenario', 'mode', '>records', '>runs', '>median rec/s', '>min–max rec/s', '>lines/s', '>median wall s', '>CPU s', '>peak RSS MB', '>start-up ms'],
  results.map((r) => [
    r.scenario,
    r.mode === 'cli' ? 'CLI child process (end to end)' : 'in-process',
    int(r.records),
    String(r.runs),
    int(r.recordsPerSec.median),
    `${int(r.recordsPerSec.min)}–${int(r.recordsPerSec.max)}`,
    r.inputLinesPerSec ? int(r.inputLinesPerSec.median) : '—',
    fixed(median(r.wallMs) / 1000),
    fixed(r.cpu.median),
    fixed(r.peakRssMB, 0),
    r.startupOverheadMs ? int(r.startupOverheadMs.median) : '—',
  ]),
));
say('records = words (wordcount) or readings (sensor-windows); lines/s = input lines read by the source;');
say('in-process = loadApp + LocalRuntime.run() after 1 warm-up run, peak RSS of the whole bench process;');
say('CLI = `node cli/bin/tributary.js run ...` spawn-to-exit, start-up = wall - RunSummary.durationMs.');
if (cliStartup) say(`\`tributary --version\` alone: median ${int(cliStartup.median)} ms (${int(cliStartup.min)}–${int(cliStartup.max)}) — node + tsx + CLI modules`);
say(`total bench time ${fixed((performance.now() - started) / 1000, 1)} s`);

if (!values['no-save']) {
  const report = {
    benchmark: 'local-mode',
    environment: env,
    options: { ...options, logLevel: 'silent' },
    inputs,
    cliVersionStartupMs: cliStartup,
    results,
    totalMs: Math.round(performance.now() - started),
  };
  await mkdir(resultsDir, { recursive: true });
  const stamp = env.date.replace(/[:.]/g, '-');
  const file = join(resultsDir, `local-mode-${stamp}.json`);
  const text = JSON.stringify(report, null, 2) + '\n';
  await writeFile(file, text);
  await writeFile(join(resultsDir, 'local-mode-latest.json'), text);
  say(`results: ${relative(repoRoot, file)} (and bench/results/local-mode-latest.json)`);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}
