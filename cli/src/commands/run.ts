import type { Command } from 'commander';
import { LocalRuntime, Params, builtinConnectors, createLogger, type RunSummary } from '@tributary/shared';
import { loadApp } from '../bundle.js';
import { paramOption } from './params-option.js';

export function registerRun(program: Command): void {
  program
    .command('run')
    .description('run an application in this process (local mode, no broker); exits when every source has ended')
    .argument('<app>', 'application module (.ts or .js) whose default export is a pipeline or a function of params')
    .addOption(paramOption())
    .option('--batch-size <n>', 'messages per batch between tasks', toInt, 1024)
    .option('--summary <format>', "print a summary when done: 'text', 'json' or 'none'", 'text')
    .action(async (app: string, opts: { param: string[]; batchSize: number; summary: string }) => {
      const summary = await runLocal(app, Params.parse(opts.param), opts.batchSize);
      printSummary(summary, opts.summary);
    });
}

/**
 * Runs until the sources end. SIGINT/SIGTERM stop the sources and let everything drain (windows
 * flush, sinks close); a second signal exits at once.
 */
export async function runLocal(app: string, params: Params, batchSize: number): Promise<RunSummary> {
  const log = createLogger({ name: 'tributary-run' });
  const graph = await loadApp(app, params);
  const runtime = new LocalRuntime(graph, { log, batchSize, connectors: builtinConnectors });
  let signalled = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (signalled) process.exit(130);
    signalled = true;
    log.info({ signal }, 'stopping: sources end now, windows flush, sinks close (signal again to exit at once)');
    runtime.stop();
  };
  process.on('SIGINT', onSignal).on('SIGTERM', onSignal);
  try {
    return await runtime.run();
  } finally {
    process.off('SIGINT', onSignal).off('SIGTERM', onSignal);
  }
}

function printSummary(s: RunSummary, format: string): void {
  if (format === 'none') return;
  if (format === 'json') {
    process.stderr.write(JSON.stringify(s) + '\n');
    return;
  }
  const lines = [`${s.app}: done in ${s.durationMs} ms`];
  for (const p of s.processors) {
    lines.push(`  [${p.id}] ${p.name} ×${p.parallelism}: in ${p.in}, out ${p.out}${p.late ? `, late ${p.late}` : ''}${p.rejected ? `, rejected ${p.rejected}` : ''}`);
  }
  if (s.lateUndelivered) lines.push(`  ${s.lateUndelivered} late record(s) had no late-data output (pipeline.late(sink)) and were only counted`);
  if (s.rejected) lines.push(`  ${s.rejected} malformed input record(s) rejected (see warnings above)`);
  process.stderr.write(lines.join('\n') + '\n');
}

export function toInt(v: string): number {
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n <= 0) throw new TypeError(`expected a positive integer, got ${v}`);
  return n;
}
