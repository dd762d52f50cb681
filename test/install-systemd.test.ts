import test from 'ava';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { installScript, sh, standInBinary } from './helpers/install.js';
import { tempDir } from './helpers/tmp.js';

/**
 * install.sh's systemd half (user, enable, restart only on change, waiting for registration,
 * uninstall). systemd is not PID 1 on the development and CI machines, so systemctl, journalctl,
 * useradd, userdel, chown and id are stand-ins on PATH that keep their state in files and log
 * every call: the test checks what install.sh asks of systemd, not systemd itself (the unit is
 * checked by `systemd-analyze verify` in install.test.ts).
 */
async function fakeSystem(dir: string, agentLogs: string) {
  const bin = join(dir, 'fake-bin');
  const state = join(dir, 'state');
  await mkdir(bin);
  await mkdir(state);
  const log = join(dir, 'calls.log');
  const tool = async (name: string, body: string) => {
    await writeFile(join(bin, name), `#!/bin/sh\nS='${state}'\necho "${name} $*" >> '${log}'\n${body}\n`);
    await chmod(join(bin, name), 0o755);
  };
  await tool('id', 'if [ "$1" = -u ] && [ $# -eq 1 ]; then echo 0; exit 0; fi\n[ -f "$S/user-$2" ] && echo 999');
  await tool('useradd', 'for a; do last=$a; done; touch "$S/user-$last"');
  await tool('userdel', 'rm -f "$S/user-$1"');
  await tool('chown', 'exit 0');
  await tool('systemctl', [
    'q=; [ "$2" = --quiet ] && q=1',
    'case $1 in',
    '  is-enabled) [ -f "$S/enabled" ] ;;',
    '  enable) touch "$S/enabled" ;;',
    '  disable) rm -f "$S/enabled" "$S/active" ;;',
    '  restart) touch "$S/active" ;;',
    '  daemon-reload) ;;',
    '  is-active) if [ -f "$S/active" ]; then st=active; else st=failed; fi; [ -n "$q" ] || echo $st; [ $st = active ] ;;',
    'esac',
  ].join('\n'));
  await tool('journalctl', `[ -f "$S/active" ] && printf '%s\\n' '${agentLogs}'; exit 0`);
  return {
    env: { PATH: `${bin}:${process.env.PATH}` },
    calls: async () => (await readFile(log, 'utf8').catch(() => '')).split('\n').filter((l) => /^(systemctl|useradd|userdel)/.test(l) && !/ is-(enabled|active)/.test(l)),
    reset: () => writeFile(log, ''),
    state,
  };
}

test('with systemd: creates the user, enables and starts the unit, waits for "agent started"; a re-run restarts nothing; a change restarts; uninstall disables', async (t) => {
  const dir = await tempDir('tributary-install-systemd-');
  t.teardown(dir.cleanup);
  const sys = await fakeSystem(dir.path, '{"level":30,"msg":"agent started","id":"dev-5"}');
  const prefix = join(dir.path, 'root');
  const binary = await standInBinary(join(dir.path, 'agent'));
  const args = ['--prefix', prefix, '--binary', binary, '--master', 'http://127.0.0.1:9', '--id', 'dev-5', '--token', 't5', '--wait', '5'];

  const first = await sh(installScript, args, sys.env);
  t.is(first.code, 0, first.stderr);
  t.regex(first.stdout, /agent dev-5 is registered with http:\/\/127\.0\.0\.1:9/);
  t.deepEqual(await sys.calls(), ['useradd --system --home-dir /var/lib/tributary --no-create-home --shell /usr/sbin/nologin tributary', 'systemctl daemon-reload', 'systemctl enable --quiet tributary-agent.service', 'systemctl restart tributary-agent.service']);

  await sys.reset();
  const again = await sh(installScript, args, sys.env);
  t.is(again.code, 0, again.stderr);
  t.regex(again.stdout, /nothing changed; tributary-agent.service is running/);
  t.deepEqual(await sys.calls(), []);

  await sys.reset();
  const relabel = await sh(installScript, [...args, '--label', 'site=b'], sys.env);
  t.is(relabel.code, 0, relabel.stderr);
  t.deepEqual(await sys.calls(), ['systemctl restart tributary-agent.service'], 'config changed: restart, no daemon-reload');

  await sys.reset();
  const un = await sh(installScript, ['--prefix', prefix, '--uninstall', '--purge'], sys.env);
  t.is(un.code, 0, un.stderr);
  t.deepEqual(await sys.calls(), ['systemctl disable --now tributary-agent.service', 'systemctl daemon-reload', 'userdel tributary']);
  t.false(existsSync(join(prefix, 'etc/systemd/system/tributary-agent.service')));
});

test('with systemd: an agent that never registers fails the install with a pointer to its journal', async (t) => {
  const dir = await tempDir('tributary-install-systemd-');
  t.teardown(dir.cleanup);
  const sys = await fakeSystem(dir.path, '{"level":50,"msg":"enrolment refused"}');
  const binary = await standInBinary(join(dir.path, 'agent'));
  const r = await sh(installScript, ['--prefix', join(dir.path, 'root'), '--binary', binary, '--master', 'http://127.0.0.1:9', '--id', 'dev-6', '--wait', '2'], sys.env);
  t.not(r.code, 0);
  t.regex(r.stderr, /did not register within 2 s; see journalctl -u tributary-agent.service/);
});
