import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { Option, type Command } from 'commander';
import { ConfigError, Params } from '@tributary/shared';
import { bundleAndPlan, bundleApp } from '../bundle.js';
import { callMaster } from '../submit.js';
import { masterTarget, withMasterClient } from './master-client.js';

/** A rollout as GET /rollouts/:id returns it (cloud-core/src/master/rollout-routes.ts). */
interface RolloutView {
  id: string; kind: string; target: string; version: string; state: string; reason?: string; wave: number; plan: string[][];
  steps: Record<string, { node: string; wave: number; from?: string; state: string; reason?: string; bytes?: number }>;
  counts: Record<string, number>; versions: Record<string, number>; bytes?: number; createdAt: number;
}

type Client = { master: string; token?: string; config?: string };

/**
 * `tributary fleet rollout agent <version> | app <file> | config <file>` and `tributary fleet status
 * [--watch]` (issue 16): thin clients of POST/GET /rollouts. Registered on the `fleet` command by commands/fleet.ts.
 */
export function registerRollout(fleet: Command): void {
  const rollout = fleet.command('rollout').description('roll an agent version, an application bundle or an agent configuration out to the fleet: canary, growing waves, abort and roll back past a failure threshold');
  policyOptions(withMasterClient(rollout.command('agent <version>')))
    .description('roll agent <version> (a version directory of the master\'s --agent-dir) out to the agents the selector matches')
    .action(async (version: string, o: Client & PolicyFlags) => start(o, { kind: 'agent', version }));
  policyOptions(withMasterClient(rollout.command('app <file>')))
    .description('roll a new version of a running application (its module, bundled like `tributary submit`) out to the nodes hosting it, edge devices first; the plan must keep its shape (processors, parallelism, placement, edges)')
    .option('--app <name>', 'the application (default: the name the module gives it)')
    .option('-p, --param <key=value>', 'application parameter, only to find its name when --app is not given (repeatable)', (v: string, prev: string[] = []) => [...prev, v])
    .action(async (file: string, o: Client & PolicyFlags & { app?: string; param?: string[] }) => {
      const { bundle, name } = o.app ? { bundle: await bundleApp(resolve(file)), name: o.app } : await bundleAndName(file, o.param ?? []);
      await start(o, { kind: 'app', app: name, bundle: Buffer.from(bundle).toString('base64') });
    });
  policyOptions(withMasterClient(rollout.command('config <file>')))
    .description('roll an agent configuration (a JSON object of agent settings, e.g. {"heartbeatMs": 2000, "labels": {...}}) out to the agents the selector matches; each agent tries it and goes back by itself unless healthy')
    .action(async (file: string, o: Client & PolicyFlags) => {
      let config: unknown;
      try {
        config = JSON.parse(await readFile(file, 'utf8'));
      } catch (err) {
        throw new ConfigError(`${file}: not a readable JSON file (${(err as Error).message})`);
      }
      if (!config || typeof config !== 'object' || Array.isArray(config)) throw new ConfigError(`${file}: expected a JSON object of agent settings`);
      await start(o, { kind: 'config', config });
    });

  withMasterClient(fleet
    .command('status [rollout-id]'))
    .description('progress of the latest rollout (or the one named): per wave, per device, and the versions the fleet runs')
    .option('--watch', 'print again every second until the rollout has ended')
    .action(async (id: string | undefined, o: Client & { watch?: boolean }) => {
      for (;;) {
        const r = id ? await call<RolloutView>(o, 'GET', `/rollouts/${encodeURIComponent(id)}`) : (await call<RolloutView[]>(o, 'GET', '/rollouts'))[0];
        if (!r) { process.stdout.write('no rollouts\n'); return; }
        process.stdout.write(formatRollout(r));
        if (!o.watch || !['running', 'aborting'].includes(r.state)) return;
        await new Promise((res) => setTimeout(res, 1000));
        process.stdout.write('\n');
      }
    });
}

interface PolicyFlags { selector?: string[]; canary: string; waves: string; maxFailures: string; stepTimeout: string }

/** The options every kind of rollout shares. */
function policyOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('--selector <key=value>', 'only devices with this label (repeatable)').argParser((v: string, prev: string[] = []) => [...prev, v]))
    .option('--canary <n>', 'devices in the first wave', '1')
    .option('--waves <base,factor>', 'then waves of base, base·factor, base·factor², … devices', '2,2')
    .option('--max-failures <percent>', 'abort (and roll back) when more than this share of the started steps failed', '0')
    .option('--step-timeout <duration>', 'a device that is not healthy on the new version by then has timed out (e.g. 90s, 5m)', '5m');
}

/** POST /rollouts with the policy flags, and one line about the rollout started. */
async function start(o: Client & PolicyFlags, what: Record<string, unknown>): Promise<void> {
  const [base, factor] = o.waves.split(',').map(Number);
  if (!(base! >= 1) || !(factor! >= 1)) throw new ConfigError(`--waves ${o.waves}: expected <base>,<factor>, e.g. 2,2`);
  const stepTimeoutMs = duration(o.stepTimeout);
  const selector = Object.fromEntries((o.selector ?? []).map((kv) => {
    const eq = kv.indexOf('=');
    if (eq <= 0) throw new ConfigError(`--selector ${kv}: expected key=value`);
    return [kv.slice(0, eq), kv.slice(eq + 1)];
  }));
  const r = await call<RolloutView>(o, 'POST', '/rollouts', {
    ...what, selector, canary: Number(o.canary), waves: { base, factor }, maxFailuresPercent: Number(o.maxFailures.replace(/%$/, '')), stepTimeoutMs,
  });
  process.stdout.write(`rollout ${r.id}: ${r.target} to ${Object.keys(r.steps).length} devices in waves of ${r.plan.map((w) => w.length).join(', ')}\n`);
}

/** Bundles an application module and plans it here for its name (the master plans it again with the application's params). */
async function bundleAndName(file: string, params: string[]): Promise<{ bundle: Uint8Array; name: string }> {
  const { bundle, graph } = await bundleAndPlan(file, Params.parse(params));
  return { bundle, name: graph.name };
}

/** The text of `fleet status`: one header line, one line per wave and device, the version histogram. */
export function formatRollout(r: RolloutView): string {
  const lines = [`rollout ${r.id}  ${r.target}  ${r.state}${r.reason ? ` (${r.reason})` : ''}`];
  r.plan.forEach((ids, w) => {
    lines.push(`  wave ${w}${w === 0 ? ' (canary)' : ''}${w === r.wave ? ' <' : ''}`);
    for (const id of ids) {
      const s = r.steps[id]!;
      const from = s.from ? `from ${r.kind === 'agent' ? s.from : s.from.slice(0, 12)}` : '';
      lines.push(`    ${id.padEnd(24)} ${s.state.padEnd(12)} ${from}${s.bytes ? `  ${formatBytes(s.bytes)}` : ''}${s.reason ? `  ${s.reason}` : ''}`);
    }
  });
  lines.push(`  steps: ${Object.entries(r.counts).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  lines.push(`  versions: ${Object.entries(r.versions).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  if (r.bytes) lines.push(`  sent: ${formatBytes(r.bytes)} to ${Object.values(r.steps).filter((s) => s.bytes).length} devices`);
  return `${lines.join('\n')}\n`;
}

async function call<T>(o: Client, method: string, path: string, body?: unknown): Promise<T> {
  return (await callMaster(masterTarget(o), method, path, body)) as T;
}

/**
 * Bytes as the dashboard shows them (cloud-core/src/dashboard/dom.ts `bytes`): kept here because
 * the CLI's client commands do not load cloud-core (it is imported lazily, for start-up time).
 */
function formatBytes(n: number): string {
  return n >= 1 << 20 ? `${(n / (1 << 20)).toFixed(1)} MiB` : n >= 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${n} B`;
}

function duration(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!m) throw new ConfigError(`--step-timeout ${text}: expected a duration like 90s, 5m or 1h`);
  return Math.round(Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[(m[2] ?? 's') as 'ms' | 's' | 'm' | 'h']);
}
