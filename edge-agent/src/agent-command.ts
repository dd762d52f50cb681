import { Option, type Command } from 'commander';
import { collect, configOption, configSources, logLevelOption, replayFlags, withMasterOptions, withReplayOptions } from './node-options.js';

/**
 * The agent's command line, defined once: `tributary agent` (cli/src/commands/cluster.ts) and the
 * single binary `tributary-agent` (bin.ts) both call this on their command, so both take the same
 * flags, config file and TRIBUTARY_* environment (shared/src/config/schemas.ts, agentConfigSchema).
 * The agent itself loads on first use: the CLI's other commands start without LevelDB. `host.threads`
 * false (the binary) refuses `--isolation thread`: it has no thread entry file to start one from.
 */
export function agentCommand(cmd: Command, host: { threads: boolean } = { threads: true }): Command {
  return withMasterOptions(withReplayOptions(cmd)
    .description('run an edge agent on a device; it hosts the edge part of applications')
    .option('--id <device-id>', 'device id (unique in the fleet); required here or as `id` in --config'))
    .addOption(new Option('--label <key=value>', 'a label for placement selectors, e.g. site=plant-1 (repeatable)').argParser(collect))
    .option('--slots <n>', 'how many tasks this agent accepts; default 4')
    .option('--data <dir>', 'local data (bundle cache, replay logs); default .data/agent')
    .addOption(configOption())
    .addOption(logLevelOption())
    .action(async (o) => {
      const { runAgent } = await import('./main.js');
      await runAgent(configSources(o, { id: o.id, master: o.master, enrolToken: o.token, brokerTls: o.brokerTls, labels: o.label, slots: o.slots, data: o.data, ...replayFlags(o), logLevel: o.logLevel }), host);
    });
}
