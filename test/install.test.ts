import test from 'ava';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { installScript, run, sh, snapshot, standInBinary } from './helpers/install.js';
import { tempDir } from './helpers/tmp.js';

/**
 * deploy/install.sh into a temporary prefix with --no-systemd --binary (no root, no master): the
 * files, their modes, the config, the unit (systemd-analyze verify), idempotence, uninstall, purge.
 */
const MASTER = 'http://10.0.0.5:8080';

async function setup(t: { teardown: (f: () => Promise<void>) => void }) {
  const dir = await tempDir('tributary-install-');
  t.teardown(dir.cleanup);
  const prefix = join(dir.path, 'root');
  const binary = await standInBinary(join(dir.path, 'agent'));
  const args = ['--prefix', prefix, '--no-systemd', '--binary', binary, '--master', MASTER, '--id', 'dev-17', '--label', 'site=plant-1', '--label', 'line=a "b"', '--token', 'tok_abc-123'];
  return { dir: dir.path, prefix, binary, args };
}

test('install.sh --no-systemd writes the binary, the config, the token and a unit systemd accepts', async (t) => {
  const { prefix, binary, args } = await setup(t);
  const r = await sh(installScript, args);
  t.is(r.code, 0, r.stderr);
  const files = await snapshot(prefix);
  const modes = Object.fromEntries([...files].map(([p, f]) => [p, f.mode]));
  t.like(modes, {
    'usr/local/bin/tributary-agent': '755',
    'usr/local/lib/tributary/agent-guard': '755',
    'etc/tributary/agent.json': '640',
    'etc/tributary/enrol.env': '600',
    'etc/systemd/system/tributary-agent.service': '644',
    'var/lib/tributary/': '750',
  });
  t.deepEqual(await readFile(join(prefix, 'usr/local/bin/tributary-agent')), await readFile(binary));
  // The binary is also the agent's current slot (self-update: deploy/agent-guard.sh).
  t.deepEqual(await readFile(join(prefix, 'var/lib/tributary/agent/current')), await readFile(binary));
  t.deepEqual(JSON.parse(await readFile(join(prefix, 'etc/tributary/agent.json'), 'utf8')), {
    id: 'dev-17', master: MASTER, labels: { line: 'a "b"', site: 'plant-1' }, data: join(prefix, 'var/lib/tributary'),
  });
  t.is(await readFile(join(prefix, 'etc/tributary/enrol.env'), 'utf8'), 'TRIBUTARY_ENROL_TOKEN=tok_abc-123\n');
  t.false(existsSync(join(prefix, 'etc/tributary/master-ca.pem')), 'no --ca, no CA file');

  const unitPath = join(prefix, 'etc/systemd/system/tributary-agent.service');
  const unit = await readFile(unitPath, 'utf8');
  t.notRegex(unit, /@[A-Z_]+@/, 'every placeholder filled in');
  for (const line of [
    `ExecStartPre=${prefix}/usr/local/lib/tributary/agent-guard ${prefix}/var/lib/tributary/agent ${prefix}/usr/local/bin/tributary-agent`,
    `ExecStart=${prefix}/var/lib/tributary/agent/current --config ${prefix}/etc/tributary/agent.json`,
    `EnvironmentFile=-${prefix}/etc/tributary/enrol.env`, `ReadWritePaths=${prefix}/var/lib/tributary`,
    'User=tributary', 'Restart=always', 'StateDirectory=tributary', 'NoNewPrivileges=yes', 'ProtectSystem=strict', 'ProtectHome=yes', 'PrivateTmp=yes',
  ]) t.true(unit.split('\n').includes(line), line);
  // systemd's own check: unknown keys, bad values, a missing or non-executable ExecStart.
  const v = await run('systemd-analyze', ['verify', unitPath]);
  t.is(v.code, 0, v.stderr);
  t.is(v.stderr.split('\n').filter((l) => l.includes('tributary-agent.service')).join('\n'), '', 'no warnings about the unit');
  t.regex(r.stdout, /not enabled or started: --no-systemd/);
});

test('install.sh is idempotent: a second run rewrites nothing and says so; a changed label rewrites only the config', async (t) => {
  const { prefix, args } = await setup(t);
  t.is((await sh(installScript, args)).code, 0);
  const before = await snapshot(prefix);
  const again = await sh(installScript, args);
  t.is(again.code, 0, again.stderr);
  t.regex(again.stdout, /nothing changed/);
  t.notRegex(again.stdout, /wrote/);
  t.deepEqual(await snapshot(prefix), before, 'same files, modes, hashes and mtimes');

  const relabelled = await sh(installScript, [...args, '--label', 'site=plant-2']);
  t.is(relabelled.code, 0, relabelled.stderr);
  t.deepEqual(relabelled.stdout.split('\n').filter((l) => l.includes('wrote')), [`install: wrote ${prefix}/etc/tributary/agent.json`]);
  t.like(JSON.parse(await readFile(join(prefix, 'etc/tributary/agent.json'), 'utf8')), { labels: { site: 'plant-2' } });
  const after = await snapshot(prefix);
  t.is(after.get('usr/local/bin/tributary-agent')!.mtimeMs, before.get('usr/local/bin/tributary-agent')!.mtimeMs, 'binary untouched');
});

test('install.sh --uninstall removes binary, unit and token but keeps config and data; --purge removes those too', async (t) => {
  const { prefix, args } = await setup(t);
  t.is((await sh(installScript, args)).code, 0);
  await mkdir(join(prefix, 'var/lib/tributary/identity'), { recursive: true });
  await writeFile(join(prefix, 'var/lib/tributary/identity/cert.pem'), 'enrolled');

  const un = await sh(installScript, ['--prefix', prefix, '--no-systemd', '--uninstall']);
  t.is(un.code, 0, un.stderr);
  t.regex(un.stdout, /kept/);
  for (const gone of ['usr/local/bin/tributary-agent', 'usr/local/lib/tributary/agent-guard', 'etc/systemd/system/tributary-agent.service', 'etc/tributary/enrol.env']) t.false(existsSync(join(prefix, gone)), gone);
  t.is(await readFile(join(prefix, 'var/lib/tributary/identity/cert.pem'), 'utf8'), 'enrolled');
  t.true(existsSync(join(prefix, 'etc/tributary/agent.json')));

  // Reinstalling over kept data works; then purge.
  t.is((await sh(installScript, args)).code, 0);
  const purge = await sh(installScript, ['--prefix', prefix, '--no-systemd', '--uninstall', '--purge']);
  t.is(purge.code, 0, purge.stderr);
  for (const gone of ['usr/local/bin/tributary-agent', 'etc/systemd/system/tributary-agent.service', 'etc/tributary', 'var/lib/tributary']) t.false(existsSync(join(prefix, gone)), gone);
});

test('install.sh refuses bad input before writing anything', async (t) => {
  const { prefix, args } = await setup(t);
  const cases: Array<[string[], RegExp]> = [
    [[...args, '--id', 'bad id!'], /--id 'bad id!'/],
    [[...args, '--label', 'bad key=x'], /--label bad key=x/],
    [[...args, '--label', 'empty='], /expected key=value with a value/],
    [[...args, '--master', 'ftp://x'], /expected http\(s\)/],
    [[...args, '--arch', 'mips'], /--arch mips/],
    [args.filter((a, i) => a !== '--binary' && args[i - 1] !== '--binary'), /--no-systemd contacts no master/],
    [[...args, '--bogus'], /unknown argument: --bogus/],
  ];
  for (const [a, message] of cases) {
    const r = await sh(installScript, a);
    t.not(r.code, 0, a.join(' '));
    t.regex(r.stderr, message);
  }
  t.false(existsSync(join(prefix, 'usr')), 'nothing installed');
  t.is((await stat(installScript)).mode & 0o111, 0o111, 'install.sh is executable');
});

test('install.sh --ca keeps the master\'s CA for the agent (NODE_EXTRA_CA_CERTS) and keeps the token when re-run without it', async (t) => {
  const { dir, prefix, args } = await setup(t);
  const ca = join(dir, 'ca.crt');
  await writeFile(ca, '-----BEGIN CERTIFICATE-----\nstand-in\n-----END CERTIFICATE-----\n');
  t.is((await sh(installScript, [...args, '--ca', ca])).code, 0);
  t.is(await readFile(join(prefix, 'etc/tributary/master-ca.pem'), 'utf8'), await readFile(ca, 'utf8'));
  const env = `NODE_EXTRA_CA_CERTS=${prefix}/etc/tributary/master-ca.pem\nTRIBUTARY_ENROL_TOKEN=tok_abc-123\n`;
  t.is(await readFile(join(prefix, 'etc/tributary/enrol.env'), 'utf8'), env);
  // Later runs (an update, a new label) need neither the token nor the CA again.
  const withoutToken = args.filter((a, i) => a !== '--token' && args[i - 1] !== '--token');
  const again = await sh(installScript, withoutToken);
  t.is(again.code, 0, again.stderr);
  t.regex(again.stdout, /nothing changed/);
  t.is(await readFile(join(prefix, 'etc/tributary/enrol.env'), 'utf8'), env);
  t.is((await sh(installScript, [...args, '--ca', join(dir, 'missing.crt')])).stderr, `install: error: --ca ${join(dir, 'missing.crt')}: no such file\n`);
});
