import type { Command } from 'commander';
import { Params } from '@tributary/shared';
import { callMaster, submitApp } from '../submit.js';
import { masterTarget, withMasterClient } from './master-client.js';
import { paramOption } from './params-option.js';

type ClientOptions = { master: string; token?: string; config?: string };

/** Client commands talking to the master's REST API: submit, apps, kill. */
export function registerApps(program: Command): void {
  withMasterClient(program.command('submit'))
    .description('bundle an application and run it on the cluster')
    .argument('<app>', 'application module')
    .addOption(paramOption())
    .action(async (app: string, o: ClientOptions & { param: string[] }) => {
      const res = await submitApp(masterTarget(o), app, Params.parse(o.param));
      process.stdout.write(`submitted ${res.id} (epoch ${res.epoch}): ${res.tasks.length} task(s) placed${res.pending.length ? `, waiting: ${res.pending.map((p: { reason: string }) => p.reason).join('; ')}` : ''}\n`);
    });

  withMasterClient(program.command('apps'))
    .description('list applications, their state and where their tasks run')
    .option('--json', 'print JSON')
    .action(async (o: ClientOptions & { json?: boolean }) => {
      const apps = await callMaster(masterTarget(o), 'GET', '/apps');
      if (o.json) return void process.stdout.write(JSON.stringify(apps, null, 2) + '\n');
      if (apps.length === 0) return void process.stdout.write('no applications\n');
      for (const a of apps) {
        const clock = typeof a.minClock === 'number' ? new Date(a.minClock).toISOString() : String(a.minClock);
        process.stdout.write(`${a.id}  ${a.state}  epoch ${a.epoch}  ${a.tasks.length} task(s)  min-clock ${clock}${a.error ? `  error: ${a.error}` : ''}\n`);
        for (const p of a.processors) {
          const where = a.tasks.filter((t: { processor: number }) => t.processor === p.id).map((t: { index: number; node: string }) => `#${t.index}@${t.node}`);
          process.stdout.write(`  [${p.id}] ${p.name}  (${p.placement.where})  ${where.join(' ') || '(not placed)'}\n`);
        }
      }
    });

  withMasterClient(program.command('kill'))
    .description('stop an application on every node')
    .argument('<app>', 'application id')
    .action(async (app: string, o: ClientOptions) => {
      const res = await callMaster(masterTarget(o), 'DELETE', `/apps/${encodeURIComponent(app)}`);
      process.stdout.write(`${res.id}: ${res.state}\n`);
    });
}
