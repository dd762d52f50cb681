import { Option, type Command } from 'commander';
import { collect } from '@tributary/edge-agent/node-options';
import { callMaster } from '../submit.js';

const masterOption = ['--master <url>', "the master's REST API", process.env.TRIBUTARY_MASTER_URL ?? 'http://127.0.0.1:8080'] as const;

/** `24h`, `30m`, `90s`, `7d`, or plain seconds. */
export function parseTtl(v: string): number {
  const m = /^(\d+)([smhd]?)$/.exec(v.trim());
  if (!m) throw new TypeError(`--ttl: expected a duration like 24h, 30m, 90s or 7d, got ${JSON.stringify(v)}`);
  return Number(m[1]) * { '': 1, s: 1, m: 60, h: 3600, d: 86_400 }[m[2] as '' | 's' | 'm' | 'h' | 'd'];
}

/**
 * `tributary devices add|list|revoke`: the master's device registry over its REST API
 * (device-routes.ts). Authentication to the master is callMaster's concern (submit.ts).
 */
export function registerDevices(program: Command): void {
  const devices = program.command('devices').description('the fleet\'s devices: add (one-time enrolment token), list, revoke');

  devices
    .command('add')
    .description('register a device and print its one-time enrolment token')
    .argument('<id>', 'device id (letters, digits, _ . -)')
    .addOption(new Option('--role <role>', 'what the device runs as').choices(['agent', 'worker', 'client']).default('agent'))
    .addOption(new Option('--label <key=value>', 'a label (repeatable)').argParser(collect))
    .option('--ttl <duration>', 'how long the token is valid: 24h, 30m, 7d, seconds', '24h')
    .addOption(new Option('--grant-read <filter>', 'role client: an application topic filter it may subscribe to (repeatable)').argParser(collect))
    .addOption(new Option('--grant-write <filter>', 'role client: an application topic filter it may publish to (repeatable)').argParser(collect))
    .option(...masterOption)
    .option('--json', 'print JSON')
    .action(async (id: string, o: { role: string; label?: string[]; ttl: string; grantRead?: string[]; grantWrite?: string[]; master: string; json?: boolean }) => {
      const labels = Object.fromEntries((o.label ?? []).map((kv) => {
        const eq = kv.indexOf('=');
        if (eq <= 0) throw new TypeError(`--label: expected key=value, got ${JSON.stringify(kv)}`);
        return [kv.slice(0, eq), kv.slice(eq + 1)];
      }));
      const grants = o.grantRead || o.grantWrite ? { ...(o.grantRead ? { read: o.grantRead } : {}), ...(o.grantWrite ? { write: o.grantWrite } : {}) } : undefined;
      const res = await callMaster(o.master, 'POST', '/devices', { id, role: o.role, labels, ttlSeconds: parseTtl(o.ttl), ...(grants ? { grants } : {}) });
      if (o.json) return void process.stdout.write(JSON.stringify(res, null, 2) + '\n');
      process.stdout.write(`device ${res.id} (${o.role}) added. Enrolment token, valid once until ${new Date(res.expiresAt).toISOString()} (shown only now):\n${res.token}\n`);
      if (o.role !== 'client') process.stdout.write(`enrol it with: tributary ${o.role} --id ${res.id} --master ${o.master} --token ${res.token}\n`);
    });

  devices
    .command('list')
    .description('list devices: role, state, labels, certificate expiry')
    .option(...masterOption)
    .option('--json', 'print JSON')
    .action(async (o: { master: string; json?: boolean }) => {
      const list = await callMaster(o.master, 'GET', '/devices');
      if (o.json) return void process.stdout.write(JSON.stringify(list, null, 2) + '\n');
      if (list.length === 0) return void process.stdout.write('no devices\n');
      for (const d of list) {
        const labels = Object.entries(d.labels as Record<string, string>).map(([k, v]) => `${k}=${v}`).join(',');
        const cert = d.certNotAfter ? `  cert until ${new Date(d.certNotAfter).toISOString()}` : d.state === 'pending' ? `  token until ${new Date(d.tokenExpiresAt).toISOString()}` : '';
        process.stdout.write(`${d.id}  ${d.role}  ${d.state}${labels ? `  ${labels}` : ''}${cert}\n`);
      }
    });

  devices
    .command('revoke')
    .description('revoke a device: its connections are closed at once and it is refused from then on')
    .argument('<id>', 'device id')
    .option(...masterOption)
    .action(async (id: string, o: { master: string }) => {
      const d = await callMaster(o.master, 'DELETE', `/devices/${encodeURIComponent(id)}`);
      process.stdout.write(`${d.id}: ${d.state}\n`);
    });
}
