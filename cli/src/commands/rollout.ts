import { Option, type Command } from 'commander';
import { ConfigError } from '@tributary/shared';
import { callMaster } from '../submit.js';
import { masterTarget, withMasterClient } from './master-client.js';

/** A rollout as GET /rollouts/:id returns it (cloud-core/src/master/rollout-routes.ts). */
interface RolloutView {
  id: string; kind: string; version: string; state: string; reason?: string; wave: number; plan: string[][];
  steps: Record<string, { node: string; wave: number; from?: string; state: string; reason?: string }>;
  counts: Record<string, number>; versions: Record<string, number>; createdAt: number;
}

type Client = { master: string; token?: string; config?: string };

/**
 * `tributary fleet rollout agent <version>` and `tributary fleet status [--watch]` (issue 16):
 * thin clients of POST/GET /rollouts. Registered on the `fleet` command by commands/fleet.ts.
 */
export function registerRollout(fleet: Command): void {
  const rollout = fleet.command('rollout').description('roll a new agent version out to the fleet: canary, growing waves, abort and roll back past a failure threshold');
  withMasterClient(rollout
    .command('agent <version>'))
    .description('roll agent <version> (a version directory of the master\'s --agent-dir) out to the agents the selector matches')
    .addOption(new Option('--selector <key=value>', 'only agents with this label (repeatable)').argParser((v: string, prev: string[] = []) => [...prev, v]))
    .option('--canary <n>', 'devices in the first wave', '1')
    .option('--waves <base,factor>', 'then waves of base, base·factor, base·factor², … devices', '2,2')
    .option('--max-failures <percent>', 'abort (and roll back) when more than this share of the started steps failed', '0')
    .option('--step-timeout <duration>', 'a device that is not healthy on the new version by then has timed out (e.g. 90s, 5m)', '5m')
    .action(async (version: string, o: Client & { selector?: string[]; canary: string; waves: string; maxFailures: string; stepTimeout: string }) => {
      const [base, factor] = o.waves.split(',').map(Number);
      if (!(base! >= 1) || !(factor! >= 1)) throw new ConfigError(`--waves ${o.waves}: expected <base>,<factor>, e.g. 2,2`);
      const stepTimeoutMs = duration(o.stepTimeout);
      const selector = Object.fromEntries((o.selector ?? []).map((kv) => {
        const eq = kv.indexOf('=');
        if (eq <= 0) throw new ConfigError(`--selector ${kv}: expected key=value`);
        return [kv.slice(0, eq), kv.slice(eq + 1)];
      }));
      const r = await call<RolloutView>(o, 'POST', '/rollouts', {
        kind: 'agent', version, selector, canary: Number(o.canary), waves: { base, factor }, maxFailuresPercent: Number(o.maxFailures.replace(/%$/, '')), stepTimeoutMs,
      });
      process.stdout.write(`rollout ${r.id}: agent ${r.version} to ${Object.keys(r.steps).length} devices in waves of ${r.plan.map((w) => w.length).join(', ')}\n`);
    });
  rollout.command('app <file>').description('(not built yet) roll an application bundle out wave by wave').action(() => {
    throw new ConfigError('fleet rollout app: not available yet (agent rollouts only); submit the application with `tributary submit`');
  });
  rollout.command('config <file>').description('(not built yet) roll an agent configuration out wave by wave').action(() => {
    throw new ConfigError('fleet rollout config: not available yet (agent rollouts only)');
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

/** The text of `fleet status`: one header line, one line per wave and device, the version histogram. */
export function formatRollout(r: RolloutView): string {
  const lines = [`rollout ${r.id}  agent ${r.version}  ${r.state}${r.reason ? ` (${r.reason})` : ''}`];
  r.plan.forEach((ids, w) => {
    lines.push(`  wave ${w}${w === 0 ? ' (canary)' : ''}${w === r.wave ? ' <' : ''}`);
    for (const id of ids) {
      const s = r.steps[id]!;
      lines.push(`    ${id.padEnd(24)} ${s.state.padEnd(12)} ${s.from ? `from ${s.from}` : ''}${s.reason ? `  ${s.reason}` : ''}`);
    }
  });
  lines.push(`  steps: ${Object.entries(r.counts).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  lines.push(`  versions: ${Object.entries(r.versions).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  return `${lines.join('\n')}\n`;
}

async function call<T>(o: Client, method: string, path: string, body?: unknown): Promise<T> {
  return (await callMaster(masterTarget(o), method, path, body)) as T;
}

function duration(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!m) throw new ConfigError(`--step-timeout ${text}: expected a duration like 90s, 5m or 1h`);
  return Math.round(Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[(m[2] ?? 's') as 'ms' | 's' | 'm' | 'h']);
}
