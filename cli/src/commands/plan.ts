import type { Command } from 'commander';
import { Params, describePlan, planToJSON } from '@tributary/shared';
import { loadApp } from '../bundle.js';
import { paramOption } from './params-option.js';

export function registerPlan(program: Command): void {
  program
    .command('plan')
    .description('print the compiled plan of an application: processors, parallelism, partitioners, fused chains')
    .argument('<app>', 'application module')
    .addOption(paramOption())
    .option('--json', 'print the plan as JSON')
    .action(async (app: string, opts: { param: string[]; json?: boolean }) => {
      // Missing params become placeholders: the plan's shape does not depend on file names.
      const graph = await loadApp(app, Params.parse(opts.param).withPlaceholders());
      process.stdout.write((opts.json ? JSON.stringify(planToJSON(graph), null, 2) : describePlan(graph)) + '\n');
    });
}
