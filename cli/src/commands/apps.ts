import type { Command } from 'commander';
import { Params } from '@tributary/shared';
import { callMaster, submitApp } from '../submit.js';
import { paramOption } from './params-option.js';

const masterOption = ['--master <url>', "the master's REST API", process.env.TRIBUTARY_MASTER_URL ?? 'http://127.0.0.1:8080'] as const;

/** Client commands talking to the master's REST API: submit, apps, kill. */
export function registerApps(program: Command): void {
  program
    .command('submit')
    .description('bundle an application and run it on the cluster')
    .argument('<app>', 'application module')
    .addOption(paramOption())
    .option(...masterOption)
    .action(async (app: string, o: { param: string[]; master: string }) => {
      const res = await submitApp(o.master, app, Params.parse(o.param));
      process.stdout.write(`submitted ${res.id} (epoch ${res.epoch}): ${res.tasks.length} task(s) placed${res.pending.length ? `, waiting: ${res.pending.map((p: { reason: string }) => p.reason).join('; ')}` : ''}\n`);
    });

  program
    .command('apps')
    .description('list applications, their state and where their tasks run')
    .option(...masterOption)
    .option('--json', 'print JSON')
    .action(async (o: { master: string; json?: boolean }) => {
      const apps = await callMaster(o.master, 'GET', '/apps');
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

  program
    .command('kill')
    .description('stop an application on every node')
    .argument('<app>', 'application id')
    .option(...masterOption)
    .action(async (app: string, o: { master: string }) => {
      const res = await callMaster(o.master, 'DELETE', `/apps/${encodeURIComponent(app)}`);
      process.stdout.write(`${res.id}: ${res.state}\n`);
    });
}
