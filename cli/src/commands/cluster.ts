import { Option, type Command } from 'commander';
import type { ConfigSources } from '@tributary/shared';

// The cloud and agent packages load only for their own commands: `tributary run` and friends, and
// every process that is not a master, start without fastify, aedes and LevelDB.
const cloud = () => import('@tributary/cloud-core');
const edge = () => import('@tributary/edge-agent');

const config = () => new Option('-c, --config <file>', 'JSON configuration file (flags and TRIBUTARY_* environment variables override it)');
const logLevel = () => new Option('--log-level <level>', 'trace|debug|info|warn|error|silent (env TRIBUTARY_LOG_LEVEL)');

function sources(opts: Record<string, unknown> & { config?: string }, flags: Record<string, unknown>): ConfigSources {
  return { file: opts.config, flags };
}

/** The long-running processes: master, worker, agent. Their settings are documented schemas in shared/src/config. */
export function registerCluster(program: Command): void {
  program
    .command('master')
    .description('run the control plane: embedded MQTT broker (or --broker), registry, applications, REST API')
    .option('--data <dir>', 'where the registry and applications are kept (LevelDB); default .data/master')
    .option('--mqtt-port <port>', 'embedded broker port on 127.0.0.1; default 1883')
    .option('--http-port <port>', 'REST API port; default 8080')
    .option('--http-host <host>', 'REST API interface; default 127.0.0.1')
    .option('--broker <url>', 'use an external MQTT broker instead of the embedded one, e.g. mqtt://10.0.0.5:1883')
    .option('--public-url <url>', 'URL nodes use to reach this master over HTTP (bundles); default http://<http-host>:<http-port>')
    .option('--checkpoint-interval-ms <ms>', 'exactly-once: checkpoint every <ms> of event time; 0 = off; default 1000')
    .addOption(config())
    .addOption(logLevel())
    .action(async (o) => {
      await (await cloud()).runMaster(sources(o, {
        data: o.data, mqttPort: o.mqttPort, httpPort: o.httpPort, httpHost: o.httpHost, broker: o.broker, publicUrl: o.publicUrl,
        checkpointIntervalMs: o.checkpointIntervalMs, logLevel: o.logLevel,
      }));
    });

  withReplayOptions(program.command('worker'))
    .description('run a cloud worker that hosts tasks')
    .option('--master <url>', "the master's MQTT broker; default mqtt://127.0.0.1:1883")
    .option('--id <id>', 'node id; default worker-<hostname>-<pid>')
    .option('--slots <n>', 'how many tasks this worker accepts; default 8')
    .addOption(new Option('--label <key=value>', 'a label for placement (repeatable)').argParser(collect))
    .option('--data <dir>', 'bundle cache and replay logs; default .data/worker')
    .addOption(config())
    .addOption(logLevel())
    .action(async (o) => {
      await (await cloud()).runWorker(sources(o, { master: o.master, id: o.id, slots: o.slots, labels: o.label, data: o.data, ...replayFlags(o), logLevel: o.logLevel }));
    });

  withReplayOptions(program.command('agent'))
    .description('run an edge agent on a device; it hosts the edge part of applications')
    .requiredOption('--id <device-id>', 'device id (unique in the fleet)')
    .option('--master <url>', "the master's MQTT broker; default mqtt://127.0.0.1:1883")
    .addOption(new Option('--label <key=value>', 'a label for placement selectors, e.g. site=plant-1 (repeatable)').argParser(collect))
    .option('--slots <n>', 'how many tasks this agent accepts; default 4')
    .option('--data <dir>', 'local data (bundle cache, replay logs); default .data/agent')
    .addOption(config())
    .addOption(logLevel())
    .action(async (o) => {
      await (await edge()).runAgent(sources(o, { id: o.id, master: o.master, labels: o.label, slots: o.slots, data: o.data, ...replayFlags(o), logLevel: o.logLevel }));
    });
}

/** The options of every command that hosts applications (worker, agent): replay log, isolation. */
function withReplayOptions(cmd: Command): Command {
  return cmd
    .option('--replay-log <on|off>', 'log first, then send: sources write a LevelDB replay log under --data; default on')
    .option('--replay-quota-mb <n>', 'disk quota of the replay logs, MB; 0 = none (default)')
    .option('--replay-quota-policy <policy>', 'when the quota is full: block (default) or drop-oldest (counted)')
    .option('--isolation <inline|thread>', 'host applications on the main thread (inline) or one worker thread each (thread); default: agent inline, worker thread')
    .option('--watchdog-ms <ms>', 'inline: report an application call that blocks the event loop this long; 0 = off; default 1000');
}

function replayFlags(o: Record<string, unknown>): Record<string, unknown> {
  return { replayLog: o.replayLog, replayQuotaMb: o.replayQuotaMb, replayQuotaPolicy: o.replayQuotaPolicy, isolation: o.isolation, watchdogMs: o.watchdogMs };
}

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}
