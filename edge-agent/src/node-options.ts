import { Option, type Command } from 'commander';
import type { ConfigSources } from '@tributary/shared';

/**
 * Command-line options every long-running node shares. They live with the agent because the agent
 * binary (bin.ts) parses them without the CLI; the CLI's `tributary agent` and `tributary worker`
 * (cli/src/commands/cluster.ts) use the same definitions, so the flags cannot drift apart. The
 * settings themselves are the documented schemas in shared/src/config/schemas.ts.
 */
export const configOption = (): Option =>
  new Option('-c, --config <file>', 'JSON configuration file (flags and TRIBUTARY_* environment variables override it)');

/** `--master` and `--token` of a node (agent, worker): where the master is, and how to enrol with it. */
export function withMasterOptions(cmd: Command): Command {
  return cmd
    .option('--master <url>', "the master: http(s)://host:port (its REST API: enrol, then its broker) or mqtt(s)://host:port (its broker); default mqtt://127.0.0.1:1883")
    .option('--token <token>', 'one-time enrolment token (tributary devices add <id>), needed once with an http(s) --master (env TRIBUTARY_ENROL_TOKEN)')
    .option('--broker-tls <auto|always>', "auto: the broker's plain loopback listener when the master is on this host, else TLS; always: TLS even on loopback; default auto");
}

export const logLevelOption = (): Option => new Option('--log-level <level>', 'trace|debug|info|warn|error|silent (env TRIBUTARY_LOG_LEVEL)');

/** The options of every command that hosts applications (worker, agent): replay log, isolation. */
export function withReplayOptions(cmd: Command): Command {
  return cmd
    .option('--replay-log <on|off>', 'log first, then send: sources write a LevelDB replay log under --data; default on')
    .option('--replay-quota-mb <n>', 'disk quota of the replay logs, MB; 0 = none (default)')
    .option('--replay-quota-policy <policy>', 'when the quota is full: block (default) or drop-oldest (counted)')
    .option('--isolation <inline|thread>', 'host applications on the main thread (inline) or one worker thread each (thread); default inline')
    .option('--watchdog-ms <ms>', 'inline: report an application call that blocks the event loop this long; 0 = off; default 1000')
    .option('--master-key <file>', "PEM file of the master's bundle-signing public key (default: <data>/identity/master-signing.pub, else trusted on first use)")
    .option('--app-heap-mb <mb>', 'thread isolation: heap cap of each application thread, MB; 0 = V8 default; default 512');
}

export function replayFlags(o: Record<string, unknown>): Record<string, unknown> {
  return { replayLog: o.replayLog, replayQuotaMb: o.replayQuotaMb, replayQuotaPolicy: o.replayQuotaPolicy, isolation: o.isolation, watchdogMs: o.watchdogMs, masterKey: o.masterKey, appHeapMb: o.appHeapMb };
}

/** A repeatable option (--label a=b --label c=d). */
export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/** What the config loader gets: the file named by --config, and the flags given (undefined = not given). */
export function configSources(opts: Record<string, unknown> & { config?: string }, flags: Record<string, unknown>): ConfigSources {
  return { file: opts.config, flags };
}
