import { Option, type Command } from 'commander';
import { ConfigError } from '@tributary/shared';
import { collect } from '@tributary/edge-agent/node-options';
import { registerRollout } from './rollout.js';

/**
 * `tributary fleet …`: putting agents on devices. `fleet bundle` writes an offline install bundle
 * for one device (cli/src/fleet-bundle.ts); deploy/bundles-from-inventory.mjs calls it per device.
 */
export function registerFleet(program: Command): Command {
  const fleet = program.command('fleet').description('put agents on devices: offline install bundles, rollouts of agent versions');
  registerRollout(fleet);
  fleet
    .command('bundle')
    .description('write one tarball that installs the agent on a device with no network (binary, signature, config, enrolment token, unit, install script)')
    .requiredOption('--id <device-id>', 'the device id')
    .addOption(new Option('--label <key=value>', 'a label for placement selectors (repeatable)').argParser(collect))
    .requiredOption('--out <file>', 'the tarball to write (.tar.gz)')
    .option('--master <url>', "the master's REST API: enrolment token, agent binary, signing key", process.env.TRIBUTARY_MASTER_URL ?? 'http://127.0.0.1:8080')
    .option('--device-master <url>', "the master's URL as the device reaches it (written into its config); default --master")
    .option('--token <admin-token>', 'admin token for the master (creating the enrolment token); env TRIBUTARY_TOKEN')
    .option('--enrol-token <token>', 'use this enrolment token (from `tributary devices add`) instead of asking the master for one')
    .option('--ttl <duration>', 'lifetime of the enrolment token, e.g. 7d, 12h, 3600 (seconds); default: the master\'s (24h)')
    .addOption(new Option('--arch <arch>', 'the device architecture').choices(['x64', 'arm64']).default('x64'))
    .option('--version <version>', 'agent version on the master', 'latest')
    .option('--binary <file>', 'bundle this agent binary (and <file>.sig if present) instead of downloading it')
    .option('--master-key <pem>', "the master's Ed25519 signing key (PEM) instead of GET /signing-key")
    .option('--ca <pem>', "the CA of the master's https certificate, for the device (e.g. <master data>/pki/ca.crt)")
    .action(async (o: {
      id: string; label?: string[]; out: string; master: string; deviceMaster?: string; token?: string; enrolToken?: string; ttl?: string;
      arch: 'x64' | 'arm64'; version: string; binary?: string; masterKey?: string; ca?: string;
    }) => {
      const { writeDeviceBundle } = await import('../fleet-bundle.js');
      const labels = Object.fromEntries((o.label ?? []).map((kv) => {
        const eq = kv.indexOf('=');
        if (eq <= 0) throw new ConfigError(`--label ${kv}: expected key=value`);
        return [kv.slice(0, eq), kv.slice(eq + 1)];
      }));
      const adminToken = o.token ?? process.env.TRIBUTARY_TOKEN;
      const b = await writeDeviceBundle({
        id: o.id, labels, master: o.master, arch: o.arch, version: o.version, out: o.out,
        ...(o.deviceMaster ? { deviceMaster: o.deviceMaster } : {}), ...(adminToken ? { adminToken } : {}), ...(o.enrolToken ? { enrolToken: o.enrolToken } : {}),
        ...(o.ttl ? { ttlSeconds: seconds(o.ttl) } : {}), ...(o.binary ? { binary: o.binary } : {}), ...(o.masterKey ? { masterKey: o.masterKey } : {}), ...(o.ca ? { ca: o.ca } : {}),
      });
      process.stdout.write(`wrote ${b.out} (${(b.bytes / 1e6).toFixed(1)} MB): agent sha256 ${b.binarySha256}, ${b.signed ? 'signed by the master' : 'NOT signed'}${b.tokenExpiresAt ? `, enrolment token valid until ${b.tokenExpiresAt}` : ''}\n`);
    });
  return fleet;
}

function seconds(d: string): number {
  const m = /^(\d+)([smhd]?)$/.exec(d.trim());
  if (!m) throw new ConfigError(`--ttl ${d}: expected a duration like 3600, 90m, 12h or 7d`);
  return Number(m[1]) * { '': 1, s: 1, m: 60, h: 3600, d: 86_400 }[m[2] as '' | 's' | 'm' | 'h' | 'd'];
}
