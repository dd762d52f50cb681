import { Option, type Command } from 'commander';
import { clientConfigSchema, loadConfig } from '@tributary/shared';
import type { MasterTarget } from '../submit.js';

/**
 * The options of every command that calls the master's REST API (submit, apps, kill, tokens, and
 * those to come): where the master is, and the admin token, from `--token`, else `token` in the
 * `--config` file, else TRIBUTARY_TOKEN. One definition, so the commands cannot drift apart.
 */
export function withMasterClient(cmd: Command): Command {
  return cmd
    .option('--master <url>', "the master's REST API", process.env.TRIBUTARY_MASTER_URL ?? 'http://127.0.0.1:8080')
    .addOption(new Option('--token <token>', 'admin token (env TRIBUTARY_TOKEN; printed by the master at its first start)'))
    .addOption(new Option('-c, --config <file>', 'JSON file with client settings, e.g. {"token": "trb_…"}'));
}

/** What callMaster needs, from the options withMasterClient added (flags > config file > env). */
export function masterTarget(o: { master: string; token?: string; config?: string }): MasterTarget {
  const { token } = loadConfig(clientConfigSchema, { file: o.config, flags: { token: o.token } });
  return { url: o.master, ...(token ? { token } : {}) };
}
