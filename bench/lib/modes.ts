import { spawn } from 'node:child_process';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { LocalRuntime, Params, builtinConnectors, createLogger, type RunSummary } from '@tributary/shared';
import { loadApp } from '../../cli/src/bundle.js';
import type { PreparedInput, ExampleApp, VerifyResult } from '../scenarios/examples/types.js';
import { childUsageHook, cliBin, repoRoot } from './paths.js';
import { MB, RssSampler } from './rss.js';
import { rates, spread, type Spread } from './stats.js';

export type Mode = 'in-process' | 'cli';

export interface ModeResult {
  scenario: string;
  mode: Mode;
  app: string;
  unit: string;
  records: number;
  runs: number;
  warmupRuns: number;
  /** Wall time per timed run: in-process = loadApp + plan + LocalRuntime.run(); cli = spawn to exit. */
  wallMs: number[];
  /** RunSummary.durationMs per run (LocalRuntime.run() alone). */
  runtimeMs: number[];
  /** User + system CPU seconds per run (in-process: process.cpuUsage delta; cli: the child's own). */
  cpuSec: number[];
  recordsPerSec: Spread;
  inputLinesPerSec: Spread | null;
  cpu: Spread;
  /** In-process: sampled peak RSS of the bench process during the timed runs. CLI: max child maxRSS. */
  peakRssMB: number;
  /** In-process only: RSS just before the warm-up run (what the bench process already held). */
  baselineRssMB: number | null;
  rssTimerSamples: number | null;
  /** CLI only: wall time minus RunSummary.durationMs (node + tsx start-up, module load, plan, exit). */
  startupOverheadMs: Spread | null;
  inputLines: number | null;
  verify: VerifyResult;
}

export interface RunOptions {
  runs: number;
  warmup: number;
  batchSize: number;
}

function appPath(s: ExampleApp): string {
  return join(repoRoot, s.app);
}

async function cleanOutputs(output: string): Promise<void> {
  await rm(output, { force: true });
  await rm(`${output}.late`, { force: true });
}

/** Runs the example through loadApp + LocalRuntime in this process, warm-up first. */
export async function runInProcess(s: ExampleApp, input: PreparedInput, dir: string, o: RunOptions): Promise<ModeResult> {
  const log = createLogger({ level: 'silent' });
  const output = join(dir, `${s.name}-inproc.jsonl`);
  const wallMs: number[] = [];
  const runtimeMs: number[] = [];
  const cpuSec: number[] = [];
  const lines: number[] = [];
  let verify: VerifyResult | null = null;
  const sampler = new RssSampler(20);
  const baseline = process.memoryUsage.rss();

  for (let i = 0; i < o.warmup + o.runs; i++) {
    const timed = i >= o.warmup;
    await cleanOutputs(output);
    if (i === o.warmup) sampler.start();
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const graph = await loadApp(appPath(s), new Params(input.params(output)));
    const summary = await new LocalRuntime(graph, { log, batchSize: o.batchSize, connectors: builtinConnectors }).run();
    const wall = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    sampler.sample();
    // Untimed: a wrong output fails the benchmark instead of reporting a figure.
    verify = await input.verify(output, summary);
    if (!timed) continue;
    wallMs.push(wall);
    runtimeMs.push(summary.durationMs);
    cpuSec.push((cpu.user + cpu.system) / 1e6);
    if (verify.inputLines !== undefined) lines.push(verify.inputLines);
  }
  sampler.stop();
  await cleanOutputs(output);
  const inputLines = lines.length ? lines[lines.length - 1] : null;
  return {
    scenario: s.name,
    mode: 'in-process',
    app: s.app,
    unit: input.unit,
    records: input.records,
    runs: o.runs,
    warmupRuns: o.warmup,
    wallMs: wallMs.map(round1),
    runtimeMs,
    cpuSec: cpuSec.map(round3),
    recordsPerSec: spread(rates(input.records, wallMs)),
    inputLinesPerSec: inputLines === null ? null : spread(rates(inputLines, wallMs)),
    cpu: spread(cpuSec),
    peakRssMB: round1(sampler.peak / MB),
    baselineRssMB: round1(baseline / MB),
    rssTimerSamples: sampler.samples,
    startupOverheadMs: null,
    inputLines,
    verify: verify!,
  };
}

interface ChildRun {
  wallMs: number;
  summary: RunSummary;
  cpuSec: number;
  maxRssKB: number;
}

/**
 * Runs `node cli/bin/tributary.js run <app> --param ... --summary json` as a child process.
 * `--summary json` (one line on stderr) instead of `none` so that start-up can be told apart from
 * processing: overhead = wall - RunSummary.durationMs.
 */
async function runCliOnce(s: ExampleApp, input: PreparedInput, output: string, batchSize: number, usageFile: string): Promise<ChildRun> {
  const args = ['--import', pathToFileURL(childUsageHook).href, cliBin, 'run', appPath(s)];
  for (const [k, v] of Object.entries(input.params(output))) args.push('--param', `${k}=${v}`);
  args.push('--batch-size', String(batchSize), '--summary', 'json');
  await rm(usageFile, { force: true });
  const t0 = performance.now();
  const child = spawn(process.execPath, args, {
    cwd: repoRoot,
    env: { ...process.env, TRIBUTARY_LOG_LEVEL: 'silent', TRIBUTARY_BENCH_USAGE_FILE: usageFile },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (c) => resolve(c));
  });
  const wallMs = performance.now() - t0;
  if (code !== 0) throw new Error(`tributary run ${s.app} exited with ${code}:\n${stderr}`);
  const last = stderr.trim().split('\n').pop() ?? '';
  let summary: RunSummary;
  try {
    summary = JSON.parse(last) as RunSummary;
  } catch {
    throw new Error(`tributary run ${s.app}: no JSON summary on stderr:\n${stderr}`);
  }
  const usage = JSON.parse(await readFile(usageFile, 'utf8')) as { userMicros: number; systemMicros: number; maxRssKB: number };
  return { wallMs, summary, cpuSec: (usage.userMicros + usage.systemMicros) / 1e6, maxRssKB: usage.maxRssKB };
}

/** End-to-end runs through the CLI: node + tsx start-up, app load, run, exit. No warm-up. */
export async function runViaCli(s: ExampleApp, input: PreparedInput, dir: string, o: { runs: number; batchSize: number }): Promise<ModeResult> {
  const output = join(dir, `${s.name}-cli.jsonl`);
  const usageFile = join(dir, `${s.name}-cli-usage.json`);
  const runs: ChildRun[] = [];
  let verify: VerifyResult | null = null;
  for (let i = 0; i < o.runs; i++) {
    await cleanOutputs(output);
    const r = await runCliOnce(s, input, output, o.batchSize, usageFile);
    verify = await input.verify(output, r.summary);
    runs.push(r);
  }
  await cleanOutputs(output);
  const wallMs = runs.map((r) => r.wallMs);
  const inputLines = verify?.inputLines ?? null;
  return {
    scenario: s.name,
    mode: 'cli',
    app: s.app,
    unit: input.unit,
    records: input.records,
    runs: o.runs,
    warmupRuns: 0,
    wallMs: wallMs.map(round1),
    runtimeMs: runs.map((r) => r.summary.durationMs),
    cpuSec: runs.map((r) => round3(r.cpuSec)),
    recordsPerSec: spread(rates(input.records, wallMs)),
    inputLinesPerSec: inputLines === null ? null : spread(rates(inputLines, wallMs)),
    cpu: spread(runs.map((r) => r.cpuSec)),
    peakRssMB: round1(Math.max(...runs.map((r) => r.maxRssKB)) / 1024),
    baselineRssMB: null,
    rssTimerSamples: null,
    startupOverheadMs: spread(runs.map((r) => r.wallMs - r.summary.durationMs)),
    inputLines,
    verify: verify!,
  };
}

/** Wall time of `tributary --version`: node + tsx registration + CLI module graph, nothing run. */
export async function measureCliStartup(times: number): Promise<Spread> {
  const walls: number[] = [];
  for (let i = 0; i < times; i++) {
    const t0 = performance.now();
    const code = await new Promise<number | null>((resolve, reject) => {
      const child = spawn(process.execPath, [cliBin, '--version'], { cwd: repoRoot, stdio: 'ignore', env: { ...process.env, TRIBUTARY_LOG_LEVEL: 'silent' } });
      child.on('error', reject).on('close', resolve);
    });
    if (code !== 0) throw new Error(`tributary --version exited with ${code}`);
    walls.push(performance.now() - t0);
  }
  return spread(walls);
}

function round1(n: number): number {
  return Math.round(n * 10) / 10;
}
function round3(n: number): number {
  return Math.round(n * 1000) / 1000;
}
