/**
 * The chaos command: plant-monitor on a full local cluster (standalone broker, master, workers,
 * agents as separate processes), k seeded kills (SIGKILL, then a supervisor-style restart), the
 * recovery time of each, and the final results compared window by window with a failure-free
 * reference of the same seed. Exits non-zero on any difference or timeout.
 *
 *   npm run chaos -- --seed 1 --kills 3
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Command, InvalidArgumentError, Option } from 'commander';
import { Params } from '@tributary/shared';
import { submitApp } from '../cli/src/submit.js';
import { ChaosCluster, DEFAULT_LAYOUT, type ClusterLayout } from './cluster.js';
import { compareResults, isClean, median, readLines, referenceFromRun, type Comparison } from './compare.js';
import { CLUSTER_FAULT_KINDS, FAULT_KINDS, parseKinds, planFaults, type Fault, type FaultKind } from './faults.js';
import { ProgressTracker, fetchApp, type AppJson } from './progress.js';
import { expectedPlantWindows, type PlantWindow } from './reference.js';
import { startPostgres, type Postgres } from '../test/helpers/postgres.js';

/** The application run, by sink: plant-monitor into a JSON-lines file, or plant-to-postgres into a table. */
const APPS = {
  file: { id: 'plant-monitor', file: fileURLToPath(new URL('../examples/plant-monitor.ts', import.meta.url)) },
  postgres: { id: 'plant-to-postgres', file: fileURLToPath(new URL('../examples/plant-to-postgres.ts', import.meta.url)) },
};
/** Set by runChaos from its options. */
let APP = APPS.file.id;
let APP_FILE = APPS.file.file;
export const RESULTS_DIR = fileURLToPath(new URL('./results/', import.meta.url));
const POLL_MS = 100;

export interface ChaosOptions {
  seed: number;
  kills: number;
  /** Fault kinds to pick from (default: worker, agent, master, broker, and postgres with the postgres sink). */
  kinds?: readonly FaultKind[];
  /**
   * Where results go: 'file' (default; plant-monitor, JSON lines) or 'postgres' (plant-to-postgres
   * into a private PostgreSQL started for the run, which the `postgres` kind crashes and restarts).
   */
  sink?: 'file' | 'postgres';
  /** Readings per sensor per agent; default: enough paced data for the kills (10 s + 20 s per kill). */
  count?: number;
  /** Event-time ms per wall-clock ms of the paced sources (default 1). */
  speed?: number;
  /** Event-time spacing of readings (default 20 ms) and window size (default 1000 ms). */
  intervalMs?: number;
  windowMs?: number;
  /** Per kill: from the kill until all tasks process again, at most (default 60 s); a timeout is a failure. */
  timeoutMs?: number;
  /** Waiting for the application to finish once the kills are done (default: the data's remaining duration + 60 s). */
  finishTimeoutMs?: number;
  /** 'compute' (default): the plain-loop reference; 'run': a failure-free cluster run first. */
  reference?: 'compute' | 'run';
  /** Keep the temp dir (data dirs, logs, outputs) even when the run is clean. */
  keep?: boolean;
  /** Where to write the JSON report; null: not written. Default chaos/results/. */
  reportDir?: string | null;
  /** Progress and the final report, line by line (default: stdout). */
  say?: (line: string) => void;
  layout?: ClusterLayout;
  /** Print what the master's API showed while waiting (startup and each recovery). */
  verbose?: boolean;
}

export interface KillRecord {
  kind: FaultKind;
  target: string;
  /** Seconds since the application was submitted. */
  atS: number;
  /** Planned time down before the restart (seeded). */
  downMs: number;
  /** Kill -> all tasks processing again (first time). Undefined: not reached. */
  recoveryMs?: number;
  /** Kill -> all tasks processing again after the killed process was restarted. */
  settledMs?: number;
  /** The application finished while recovering (its data ended): nothing left to process. */
  endedWhileRecovering?: boolean;
  epochBefore?: number;
  epochAfter?: number;
  timedOut: boolean;
  /** Why it did not recover, when it did not. */
  problem?: string;
  /** What the master's API showed, each time it changed: [ms since the kill, what]. */
  timeline: [number, string][];
}

export interface RunResult {
  dir: string;
  logDir: string;
  brokerUrl: string;
  httpUrl: string;
  startupMs?: number;
  startupTimeline: [number, string][];
  kills: KillRecord[];
  /** Submission -> application finished. */
  runMs?: number;
  recoveries?: number;
  outputLines: string[];
  late: number;
  exitCodes: Record<string, { code: number | null; forced: boolean }>;
  failures: string[];
}

export interface ChaosReport {
  ok: boolean;
  seed: number;
  kills: number;
  kinds: FaultKind[];
  params: Record<string, string>;
  plan: Fault[];
  reference: 'compute' | 'run';
  startedAt: string;
  durationMs: number;
  dir: string;
  kept: boolean;
  comparison: Comparison | null;
  run: Omit<RunResult, 'outputLines'>;
  referenceRun?: Omit<RunResult, 'outputLines'>;
  recovery: Record<string, { n: number; medianMs: number; worstMs: number }>;
  failures: string[];
  warnings: string[];
  reportPath?: string;
}

/** Plant-monitor's parameters for a chaos run: seeded, bounded, paced, deterministic. */
export function chaosParams(o: ChaosOptions, output: string): Record<string, string> {
  const intervalMs = o.intervalMs ?? 20;
  const speed = o.speed ?? 1;
  const count = o.count ?? Math.ceil(((10_000 + 20_000 * o.kills) * speed) / intervalMs);
  return {
    seed: String(o.seed), count: String(count), startTs: '1700000000000', intervalMs: String(intervalMs),
    windowMs: String(o.windowMs ?? 1000), paced: 'true', speed: String(speed), output,
  };
}

export async function runChaos(o: ChaosOptions): Promise<ChaosReport> {
  const say = o.say ?? ((line: string) => process.stdout.write(line + '\n'));
  const startedAt = new Date();
  const sink = o.sink ?? (o.kinds?.includes('postgres') ? 'postgres' : 'file');
  ({ id: APP, file: APP_FILE } = APPS[sink]);
  const kinds = [...(o.kinds ?? (sink === 'postgres' ? FAULT_KINDS : CLUSTER_FAULT_KINDS))];
  const layout = o.layout ?? DEFAULT_LAYOUT;
  const agents = Object.keys(layout.agents);
  const plan = planFaults({ seed: o.seed, kills: o.kills, kinds, workers: layout.workers, agents });
  const dir = await mkdtemp(join(tmpdir(), 'tributary-chaos-'));
  const paramsIn = (sub: string) => chaosParams(o, join(dir, sub, 'windows.jsonl'));
  const params = paramsIn('chaos');
  const dataWallMs = (Number(params.count) * Number(params.intervalMs)) / Number(params.speed);
  say(`chaos: seed ${o.seed}, ${o.kills} kill(s) among ${kinds.join(',')}; ${agents.length} agents x 2 sensors x ${params.count} readings ` +
    `(${(dataWallMs / 1000).toFixed(1)} s of data at speed ${params.speed}), windows of ${params.windowMs} ms; dir ${dir}`);
  say(`plan: ${plan.map((f, i) => `#${i + 1} ${f.kind} ${f.target} (+${f.gapMs} ms, down ${f.downMs} ms)`).join('; ') || 'no kills'}`);

  const failures: string[] = [];
  const warnings: string[] = [];
  let reference: Map<string, PlantWindow>;
  let referenceLate = 0;
  let referenceRun: RunResult | undefined;
  if (o.reference === 'run') {
    say('reference: a failure-free run of the same seed and params first...');
    referenceRun = await runCluster(join(dir, 'reference'), paramsIn('reference'), [], o, layout, say);
    const r = referenceFromRun(referenceRun.outputLines);
    reference = r.reference;
    referenceLate = referenceRun.late;
    failures.push(...referenceRun.failures.map((f) => `reference run: ${f}`), ...r.problems);
    say(`reference: ${reference.size} windows, ${referenceLate} late record(s)`);
    // The failure-free run should itself equal the computed reference; say so when it does not.
    const vsComputed = compareResults(await expectedPlantWindows(agents, params), referenceRun.outputLines, referenceLate);
    if (!isClean(vsComputed)) {
      warnings.push(`the failure-free run differs from the computed reference: lost ${vsComputed.lost}, duplicated ${vsComputed.duplicated}, ` +
        `wrong ${vsComputed.wrong}, unexpected ${vsComputed.unexpected}, late ${vsComputed.late}`);
    }
  } else {
    reference = await expectedPlantWindows(agents, params);
  }

  say(o.kills > 0 ? 'the run with kills...' : 'the run (no kills)...');
  const run = await runCluster(join(dir, 'chaos'), params, plan, o, layout, say);
  failures.push(...run.failures);
  for (const [name, r] of Object.entries({ ...referenceRun?.exitCodes, ...run.exitCodes })) {
    if (r.forced) warnings.push(`${name} did not stop within the grace period after SIGTERM (killed)`);
    else if (r.code !== 0) warnings.push(`${name} exited with code ${r.code} after SIGTERM`);
  }
  const comparison = compareResults(reference, run.outputLines, run.late, referenceLate);

  const recovery: ChaosReport['recovery'] = {};
  for (const kind of kinds) {
    const ms = run.kills.filter((k) => k.kind === kind && k.recoveryMs !== undefined).map((k) => k.recoveryMs!);
    if (ms.length > 0) recovery[kind] = { n: ms.length, medianMs: Math.round(median(ms)), worstMs: Math.max(...ms) };
  }
  const ok = failures.length === 0 && isClean(comparison);
  const kept = !ok || o.keep === true;
  const { outputLines: _o, ...runSummary } = run;
  const report: ChaosReport = {
    ok, seed: o.seed, kills: o.kills, kinds, params, plan, reference: o.reference ?? 'compute',
    startedAt: startedAt.toISOString(), durationMs: Date.now() - startedAt.getTime(), dir, kept,
    comparison, run: runSummary, recovery, failures, warnings,
    ...(referenceRun ? { referenceRun: (({ outputLines: _r, ...rest }) => rest)(referenceRun) } : {}),
  };
  if (o.reportDir !== null) {
    const reportDir = o.reportDir ?? RESULTS_DIR;
    await mkdir(reportDir, { recursive: true });
    report.reportPath = join(reportDir, `${startedAt.toISOString().replace(/[:.]/g, '-')}.json`);
    await writeFile(report.reportPath, JSON.stringify(report, null, 2) + '\n');
  }
  printReport(report, say);
  if (!kept) await rm(dir, { recursive: true, force: true });
  return report;
}

/** One cluster from start to graceful stop: submit, kills, finish; the output file's lines. */
async function runCluster(dir: string, params: Record<string, string>, faults: readonly Fault[], o: ChaosOptions, layout: ClusterLayout, say: (l: string) => void): Promise<RunResult> {
  await mkdir(dir, { recursive: true });
  const cluster = new ChaosCluster(dir, layout);
  const failures: string[] = [];
  const kills: KillRecord[] = [];
  const result: RunResult = { dir, logDir: cluster.logDir, brokerUrl: '', httpUrl: '', startupTimeline: [], kills, outputLines: [], late: 0, exitCodes: {}, failures };
  const timeoutMs = o.timeoutMs ?? 60_000;
  let db: Postgres | undefined;
  if (APP === APPS.postgres.id) {
    db = await startPostgres();
    // No key on the table: a duplicated row shows. (The example's own table has one.)
    await db.query(`CREATE TABLE plant_windows (device text NOT NULL, sensor text NOT NULL, window_start bigint NOT NULL,
      window_end bigint NOT NULL, count integer NOT NULL, min double precision, max double precision, avg double precision)`);
    params = { ...params, postgres: db.url, late: `${params.output}.late` };
    say(`  PostgreSQL ${db.url} (pid ${db.pid()})`);
  }
  const dataWallMs = (Number(params.count) * Number(params.intervalMs)) / Number(params.speed);
  let started = false;
  try {
    await cluster.start();
    started = true;
    result.brokerUrl = cluster.brokerUrl;
    result.httpUrl = cluster.httpUrl;
    say(`  cluster up: broker ${cluster.brokerUrl}, master ${cluster.httpUrl}, ${layout.workers.length} workers, ${Object.keys(layout.agents).length} agents; logs ${cluster.logDir}`);
    const submittedAt = Date.now();
    await submitApp({ url: cluster.httpUrl, token: cluster.adminToken }, APP_FILE, new Params(params));
    const tracker = new ProgressTracker();
    const startup = await untilProcessing(cluster.httpUrl, tracker, submittedAt + timeoutMs, result.startupTimeline);
    if (startup.status !== 'ok') throw new Error(`the application did not start processing within ${timeoutMs} ms: ${startup.reason}`);
    result.startupMs = startup.at - submittedAt;
    say(`  submitted; all tasks processing after ${result.startupMs} ms`);
    if (o.verbose) for (const [ms, what] of result.startupTimeline) say(`      +${ms} ms: ${what}`);

    let downtime = 0;
    for (const [i, fault] of faults.entries()) {
      await delay(fault.gapMs);
      const app = await fetchApp(cluster.httpUrl, APP);
      const ending = !app ? 'the master does not answer' : app.state !== 'running' ? `the application is ${app.state}`
        : Object.entries(app.nodes).find(([, n]) => n.state === 'finished')?.[0];
      if (ending) {
        failures.push(`kill ${i + 1} of ${faults.length} not injected: ${ending.startsWith('the') ? ending : `${ending} has already finished its part`} ` +
          '(the data ran out before the kills did: raise --count or lower --speed)');
        break;
      }
      const rec = await injectFault(cluster, fault, tracker, submittedAt, timeoutMs, app!, db);
      downtime += fault.kind === 'agent' ? fault.downMs : 0;
      kills.push(rec);
      say(`  kill ${i + 1}: ${rec.kind} ${rec.target} at ${rec.atS.toFixed(1)} s, down ${rec.downMs} ms: ` +
        (rec.recoveryMs !== undefined ? `all tasks processing after ${rec.recoveryMs} ms` : 'never processing again') +
        (rec.settledMs !== undefined && rec.settledMs !== rec.recoveryMs ? ` (again after the restart: ${rec.settledMs} ms)` : '') +
        (rec.endedWhileRecovering ? ' (the application finished meanwhile)' : '') +
        (rec.epochAfter !== undefined ? `, epoch ${rec.epochBefore} -> ${rec.epochAfter}` : '') +
        (rec.problem ? ` — ${rec.problem}` : ''));
      if (o.verbose) for (const [ms, what] of rec.timeline) say(`      +${ms} ms: ${what}`);
      if (rec.timedOut || rec.problem) {
        failures.push(`kill ${i + 1} (${rec.kind} ${rec.target}): ${rec.problem ?? `not recovered within ${timeoutMs} ms`}`);
        break;
      }
    }

    // Sources end, windows flush, every node reports finished.
    const remaining = Math.max(0, submittedAt + dataWallMs + downtime - Date.now());
    const finishBy = Date.now() + (o.finishTimeoutMs ?? remaining + 60_000);
    let last: AppJson | undefined;
    for (;;) {
      last = await fetchApp(cluster.httpUrl, APP);
      if (last?.state === 'finished') break;
      if (last && last.state !== 'running') {
        failures.push(`the application ended ${last.state}${last.error ? `: ${last.error}` : ''}`);
        break;
      }
      if (Date.now() > finishBy) {
        const nodes = last ? Object.entries(last.nodes).map(([id, n]) => `${id} ${n.online ? n.state : 'offline'}`).join(', ') : 'master not answering';
        failures.push(`the application did not finish in time (${nodes})`);
        break;
      }
      await delay(250);
    }
    if (last?.state === 'finished') {
      result.runMs = Date.now() - submittedAt;
      say(`  application finished ${(result.runMs / 1000).toFixed(1)} s after submission`);
    }
    result.recoveries = last?.recoveries;
  } catch (err) {
    failures.push((err as Error).message);
  } finally {
    if (started) result.exitCodes = await cluster.stop();
    else await cluster.killAll();
  }
  if (db) {
    result.outputLines = await tableLines(db).catch((err: Error) => {
      failures.push(`reading the table: ${err.message}`);
      return [];
    });
    await db.destroy();
  } else {
    result.outputLines = await readLines(params.output);
  }
  result.late = (await readLines(`${params.output}.late`)).length;
  return result;
}

/** Polls until every task is processing (or the app finished); 'failed' as soon as it fails. */
async function untilProcessing(httpUrl: string, tracker: ProgressTracker, deadline: number, timeline: [number, string][]): Promise<{ status: 'ok'; at: number; finished: boolean } | { status: 'timeout' | 'failed'; reason: string }> {
  let reason = '';
  const t0 = Date.now();
  while (Date.now() < deadline) {
    const obs = tracker.observe(await fetchApp(httpUrl, APP));
    if (obs.status === 'processing' || obs.status === 'finished') return { status: 'ok', at: Date.now(), finished: obs.status === 'finished' };
    if (obs.status === 'failed') return { status: 'failed', reason: obs.reason };
    if (obs.reason !== reason) timeline.push([Date.now() - t0, obs.reason]);
    reason = obs.reason;
    await delay(POLL_MS);
  }
  return { status: 'timeout', reason };
}

/**
 * SIGKILL the target, restart it `downMs` later with the same command line, and measure: from the
 * kill until all tasks are processing again (recoveryMs), and until they are after the restart
 * too (settledMs; the next kill waits for it).
 */
async function injectFault(cluster: ChaosCluster, fault: Fault, tracker: ProgressTracker, submittedAt: number, timeoutMs: number, before: AppJson, db?: Postgres): Promise<KillRecord> {
  const proc = fault.kind === 'postgres' ? postgresProc(db) : cluster.byName(fault.target);
  const killAt = Date.now();
  const rec: KillRecord = { kind: fault.kind, target: fault.target, atS: (killAt - submittedAt) / 1000, downMs: fault.downMs, timedOut: false, epochBefore: before.epoch, timeline: [] };
  await proc.kill();
  tracker.reset();
  let restarted = false;
  let restartError: Error | undefined;
  const restart = delay(fault.downMs)
    .then(() => proc.start(timeoutMs))
    .then(() => {
      restarted = true;
      rec.timeline.push([Date.now() - killAt, `${fault.target} restarted`]);
      tracker.reset(); // what counts from now on is processing with the restarted process back
    }, (err: Error) => void (restartError = err));
  const deadline = killAt + timeoutMs;
  let reason = '';
  while (!restartError) {
    if (Date.now() > deadline) {
      rec.timedOut = true;
      rec.problem = `not processing again within ${timeoutMs} ms (last seen: ${reason})`;
      break;
    }
    const app = await fetchApp(cluster.httpUrl, APP);
    const obs = tracker.observe(app);
    if (obs.status === 'failed') {
      rec.problem = obs.reason;
      break;
    }
    const seen = obs.status === 'waiting' ? obs.reason : obs.status;
    if (seen !== rec.timeline.at(-1)?.[1]) rec.timeline.push([Date.now() - killAt, seen]);
    if (obs.status === 'processing' || obs.status === 'finished') {
      rec.recoveryMs ??= Date.now() - killAt;
      if (restarted) {
        rec.settledMs = Date.now() - killAt;
        rec.epochAfter = app?.epoch;
        rec.endedWhileRecovering = obs.status === 'finished' || undefined;
        break;
      }
    } else {
      reason = obs.reason;
    }
    await delay(POLL_MS);
  }
  await restart;
  if (restartError) rec.problem = `restarting ${fault.target} failed: ${restartError.message}`;
  return rec;
}

/** The database as a killable process: an immediate stop (connections cut, no shutdown checkpoint), then a start. */
function postgresProc(db: Postgres | undefined): { kill(): Promise<void>; start(timeoutMs: number): Promise<unknown> } {
  if (!db) throw new Error('a postgres fault needs --sink postgres');
  return { kill: () => db.stop('immediate'), start: () => db.start() };
}

/** The table's rows as the JSON lines plant-monitor's file sink would have written (same key order). */
async function tableLines(db: Postgres): Promise<string[]> {
  const r = await db.query<{ device: string; sensor: string; window_start: string; window_end: string; count: number; min: number; max: number; avg: number }>('SELECT * FROM plant_windows');
  return r.rows.map((x) => JSON.stringify({ device: x.device, sensor: x.sensor, windowStart: Number(x.window_start), windowEnd: Number(x.window_end), count: x.count, min: x.min, max: x.max, avg: x.avg } satisfies PlantWindow));
}

function printReport(r: ChaosReport, say: (l: string) => void): void {
  const c = r.comparison;
  say('');
  if (c) {
    say(`results: ${c.compared} windows compared (reference: ${r.reference === 'run' ? 'failure-free run' : 'computed'}); output: ${c.outputLines} lines, ${c.distinct} distinct windows`);
    say(`  lost ${c.lost}, duplicated ${c.duplicated} (${c.extraLines} extra lines), wrong ${c.wrong}, unexpected ${c.unexpected}, malformed ${c.malformed}, late records ${c.late} (reference ${c.referenceLate})`);
    for (const [what, list] of Object.entries(c.examples)) if (list.length > 0) say(`  e.g. ${what}: ${list.slice(0, 3).join('; ')}`);
  }
  if (r.run.kills.length > 0) {
    say('kills:');
    for (const [i, k] of r.run.kills.entries()) {
      say(`  ${String(i + 1).padStart(2)}. ${k.kind.padEnd(6)} ${k.target.padEnd(8)} at ${k.atS.toFixed(1).padStart(6)} s  recovery ${k.recoveryMs !== undefined ? `${k.recoveryMs} ms` : k.timedOut ? 'TIMEOUT' : 'none'}` +
        (k.settledMs !== undefined && k.settledMs !== k.recoveryMs ? ` (after restart ${k.settledMs} ms)` : ''));
    }
    for (const [kind, s] of Object.entries(r.recovery)) say(`  ${kind}: median ${s.medianMs} ms, worst ${s.worstMs} ms (${s.n} kill(s))`);
  }
  for (const w of r.warnings) say(`warning: ${w}`);
  for (const f of r.failures) say(`failure: ${f}`);
  if (r.reportPath) say(`report: ${r.reportPath}`);
  if (r.ok) {
    say(`OK: the results are exactly the failure-free run's${r.kept ? `; kept ${r.dir}` : ''}`);
  } else {
    say(`FAILED; process logs: ${r.run.logDir}${r.referenceRun ? ` (reference run: ${r.referenceRun.logDir})` : ''}`);
  }
}

async function main(argv: string[]): Promise<number> {
  const program = new Command()
    .name('chaos')
    .description('plant-monitor on a local cluster with seeded SIGKILLs of workers, agents, the master and the broker; results compared with a failure-free run')
    .option('--seed <n>', 'seed of the data and of the kill schedule', (v) => int('--seed', v), 1)
    .option('--kills <k>', 'how many kills', (v) => int('--kills', v), 3)
    .option('--kinds <list>', `what may be killed, comma-separated (${FAULT_KINDS.join(',')}; default all but postgres, all with --sink postgres)`)
    .addOption(new Option('--sink <where>', 'results into a JSON-lines file (plant-monitor) or a PostgreSQL table (plant-to-postgres)').choices(['file', 'postgres']).default('file'))
    .option('--count <n>', 'readings per sensor per agent (default: 10 s + 20 s per kill of data)', (v) => int('--count', v, 1))
    .option('--speed <x>', 'event-time ms per wall-clock ms of the paced sources', (v) => num('--speed', v), 1)
    .option('--interval <ms>', 'event-time spacing of one sensor\'s readings', (v) => int('--interval', v, 1), 20)
    .option('--window <ms>', 'tumbling window size', (v) => int('--window', v, 1), 1000)
    .option('--timeout <s>', 'per kill: seconds until all tasks must process again', (v) => num('--timeout', v), 60)
    .addOption(new Option('--reference <how>', 'compute the reference, or run a failure-free cluster first').choices(['compute', 'run']).default('compute'))
    .option('--keep', 'keep the temp dir (data, logs, outputs) even when the run is clean')
    .option('--verbose', 'print what the master showed while waiting for each recovery')
    .showHelpAfterError()
    .exitOverride();
  let kinds: FaultKind[];
  let o: { seed: number; kills: number; kinds?: string; sink: 'file' | 'postgres'; count?: number; speed: number; interval: number; window: number; timeout: number; reference: 'compute' | 'run'; keep?: boolean; verbose?: boolean };
  try {
    program.parse(argv);
    o = program.opts();
    kinds = parseKinds(o.kinds ?? (o.sink === 'postgres' ? FAULT_KINDS : CLUSTER_FAULT_KINDS).join(','));
  } catch (err) {
    if (err instanceof TypeError) process.stderr.write(`chaos: ${err.message}\n`);
    return (err as { exitCode?: number }).exitCode ?? 2;
  }
  const report = await runChaos({
    seed: o.seed, kills: o.kills, kinds, sink: kinds.includes('postgres') ? 'postgres' : o.sink, count: o.count, speed: o.speed, intervalMs: o.interval,
    windowMs: o.window, timeoutMs: o.timeout * 1000, reference: o.reference, keep: o.keep, verbose: o.verbose,
  });
  return report.ok ? 0 : 1;
}

function int(flag: string, v: string, min = 0): number {
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < min) throw new InvalidArgumentError(`${flag}: expected an integer >= ${min}, got ${JSON.stringify(v)}`);
  return n;
}

function num(flag: string, v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`${flag}: expected a number > 0, got ${JSON.stringify(v)}`);
  return n;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  // Ctrl-C: exit through process.exit so the launcher SIGKILLs every child on the way out.
  process.once('SIGINT', () => process.exit(130)).once('SIGTERM', () => process.exit(143));
  main(process.argv).then((code) => process.exit(code), (err: Error) => {
    process.stderr.write(`chaos: ${err.stack ?? err.message}\n`);
    process.exit(2);
  });
}
