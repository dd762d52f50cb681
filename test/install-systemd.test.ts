import test from 'ava';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fakeSystem, installScript, sh, standInBinary } from './helpers/install.js';
import { tempDir } from './helpers/tmp.js';

/**
 * install.sh's systemd half (user, enable, restart only on change, waiting for registration,
 * uninstall), with the stand-ins of helpers/install.ts fakeSystem for systemctl and friends.
 */
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
