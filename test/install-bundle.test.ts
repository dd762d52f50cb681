import test from 'ava';
import { createHash, generateKeyPairSync, sign, verify } from 'node:crypto';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { agentSigningPayload } from '@tributary/shared';
import { ChildNode } from '../cli/src/launcher.js';
import { api, startMaster, waitForNodesOnline, type RunningMaster } from './helpers/cluster.js';
import { repoRoot, tributary } from './helpers/cli.js';
import { fakeSystem, installScript, run, sh, snapshot, standInBinary } from './helpers/install.js';
import { tempDir } from './helpers/tmp.js';

/**
 * The master serving install.sh and agent binaries (hash, Ed25519 signature), and offline
 * bundles from `tributary fleet bundle` installed with no network: a real master process with
 * --agent-dir, the real CLI, deploy/install.sh run by sh into temporary prefixes.
 */
interface Ctx {
  dir: string;
  master: RunningMaster;
  agentDir: string;
  pubPem: string;
  privPem: string;
  cleanup: () => Promise<void>;
}
let ctx: Ctx;

test.before(async () => {
  const dir = await tempDir('tributary-install-bundle-');
  const agentDir = join(dir.path, 'dist');
  await mkdir(join(agentDir, '2.0.0'), { recursive: true });
  await standInBinary(join(agentDir, 'tributary-agent-linux-x64'), 'agent latest x64');
  await standInBinary(join(agentDir, '2.0.0/tributary-agent-linux-arm64'), 'agent 2.0.0 arm64');
  // The master's signing key where the security work keeps it (<data>/pki/signing.key).
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const privPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const pubPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
  await mkdir(join(dir.path, 'master/pki'), { recursive: true });
  await writeFile(join(dir.path, 'master/pki/signing.key'), privPem, { mode: 0o600 });
  await writeFile(join(dir.path, 'signing.pub'), pubPem);
  const master = await startMaster(join(dir.path, 'master'), ['--agent-dir', agentDir]);
  ctx = { dir: dir.path, master, agentDir, pubPem, privPem, cleanup: async () => {
    await master.proc.stop();
    await dir.cleanup();
  } };
});
test.after.always(() => ctx?.cleanup());

test('the master serves agent binaries with their SHA-256 and its Ed25519 signature over the digest', async (t) => {
  const base = `${ctx.master.httpUrl}/agent`;
  const bin = Buffer.from(await (await fetch(`${base}/latest/linux-x64`)).arrayBuffer());
  t.deepEqual(bin, await readFile(join(ctx.agentDir, 'tributary-agent-linux-x64')));
  const digest = createHash('sha256').update(bin).digest();
  t.is(await (await fetch(`${base}/latest/linux-x64.sha256`)).text(), `${digest.toString('hex')}  tributary-agent-linux-x64\n`);
  const sig = Buffer.from(await (await fetch(`${base}/latest/linux-x64.sig`)).arrayBuffer());
  t.true(verify(null, agentSigningPayload(digest.toString('hex')), ctx.pubPem, sig));
  t.false(verify(null, digest, ctx.pubPem, sig), 'not the bare digest: the agent binaries\' own domain prefix');
  t.regex(await (await fetch(`${base}/2.0.0/linux-arm64`)).text(), /agent 2\.0\.0 arm64/);
  for (const missing of ['latest/linux-arm64', '2.0.0/linux-x64', 'latest/linux-mips', '..%2F..%2Fetc/linux-x64', 'latest/linux-x64.txt']) {
    t.is((await fetch(`${base}/${missing}`)).status, 404, missing);
  }
});

test('GET /install.sh is install.sh with the master URL and the unit filled in: it installs with no file beside it', async (t) => {
  const res = await fetch(`${ctx.master.httpUrl}/install.sh`);
  t.is(res.status, 200);
  const served = await res.text();
  t.true(served.includes(`EMBEDDED_MASTER='${ctx.master.httpUrl}'`));
  t.true(served.includes('ExecStart=@DATA@/agent/current --config @CONFIG@'));
  t.true(served.includes("EMBEDDED_GUARD='#!/bin/sh"), 'the start guard travels inside the served script');
  const alone = join(ctx.dir, 'served');
  await mkdir(alone);
  await writeFile(join(alone, 'install.sh'), served);
  const binary = await standInBinary(join(ctx.dir, 'served-agent'));
  const args = (prefix: string) => ['--prefix', prefix, '--no-systemd', '--binary', binary, '--id', 'dev-3', '--token', 't3'];
  const r = await sh(join(alone, 'install.sh'), args(join(ctx.dir, 'served-root')));
  t.is(r.code, 0, r.stderr);
  t.like(JSON.parse(await readFile(join(ctx.dir, 'served-root/etc/tributary/agent.json'), 'utf8')), { id: 'dev-3', master: ctx.master.httpUrl });
  // The same unit as the repository's script writes from deploy/tributary-agent.service.
  const prefix2 = join(ctx.dir, 'served-root-2');
  await mkdir(prefix2);
  const r2 = await sh(installScript, [...args(prefix2), '--master', ctx.master.httpUrl]);
  t.is(r2.code, 0, r2.stderr);
  const unit = (p: string) => readFile(join(p, 'etc/systemd/system/tributary-agent.service'), 'utf8').then((u) => u.replaceAll(p, '<prefix>'));
  t.is(await unit(join(ctx.dir, 'served-root')), await unit(prefix2));
});

async function bundle(id: string, extra: string[]): Promise<string> {
  const out = join(ctx.dir, 'bundles', `${id}.tar.gz`);
  const r = await tributary(['fleet', 'bundle', '--id', id, '--label', 'site=plant-9', '--label', 'line=2', '--master', ctx.master.httpUrl, '--out', out, ...extra]);
  if (r.code !== 0) throw new Error(`fleet bundle failed: ${r.stderr}`);
  return out;
}

test('an offline bundle installs with no network: binary verified, config, token and key in place; its ./install is idempotent', async (t) => {
  await writeFile(join(ctx.dir, 'ca.crt'), '-----BEGIN CERTIFICATE-----\nstand-in CA\n-----END CERTIFICATE-----\n');
  const out = await bundle('dev-9', ['--device-master', 'https://master.example:8443', '--enrol-token', 'tok-9', '--master-key', join(ctx.dir, 'signing.pub'), '--ca', join(ctx.dir, 'ca.crt')]);
  const prefix = join(ctx.dir, 'bundle-root');
  // No --master: everything comes from the bundle; the master URL it names is not reachable from here.
  const r = await sh(installScript, ['--bundle', out, '--no-systemd', '--prefix', prefix]);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /binary verified: sha256 [0-9a-f]{64}, signed by the master/);
  t.deepEqual(await readFile(join(prefix, 'usr/local/bin/tributary-agent')), await readFile(join(ctx.agentDir, 'tributary-agent-linux-x64')));
  t.deepEqual(JSON.parse(await readFile(join(prefix, 'etc/tributary/agent.json'), 'utf8')), {
    id: 'dev-9', master: 'https://master.example:8443', labels: { line: '2', site: 'plant-9' }, data: join(prefix, 'var/lib/tributary'),
  });
  t.is(await readFile(join(prefix, 'etc/tributary/enrol.env'), 'utf8'), `NODE_EXTRA_CA_CERTS=${prefix}/etc/tributary/master-ca.pem\nTRIBUTARY_ENROL_TOKEN=tok-9\n`);
  t.is(await readFile(join(prefix, 'etc/tributary/master-ca.pem'), 'utf8'), await readFile(join(ctx.dir, 'ca.crt'), 'utf8'));
  t.is(await readFile(join(prefix, 'etc/tributary/master-signing.pub'), 'utf8'), ctx.pubPem);
  const v = await run('systemd-analyze', ['verify', join(prefix, 'etc/systemd/system/tributary-agent.service')]);
  t.is(v.code, 0, v.stderr);

  // The tarball's own ./install, into the same prefix: nothing changes.
  const x = join(ctx.dir, 'unpacked-9');
  await mkdir(x);
  t.is((await run('tar', ['-xzf', out, '-C', x])).code, 0);
  t.is(await readFile(join(x, 'tributary-dev-9/enrol-token'), 'utf8'), 'tok-9\n');
  const before = await snapshot(prefix);
  const again = await run(join(x, 'tributary-dev-9/install'), ['--no-systemd', '--prefix', prefix]);
  t.is(again.code, 0, again.stderr);
  t.regex(again.stdout, /nothing changed/);
  t.deepEqual(await snapshot(prefix), before);
});

test('install.sh refuses a bundle whose binary or signature was tampered with, and installs nothing', async (t) => {
  const out = await bundle('dev-10', ['--enrol-token', 'tok-10', '--master-key', join(ctx.dir, 'signing.pub')]);
  const x = join(ctx.dir, 'unpacked-10');
  await mkdir(x);
  t.is((await run('tar', ['-xzf', out, '-C', x])).code, 0);
  const b = join(x, 'tributary-dev-10');
  const original = await readFile(join(b, 'tributary-agent'));

  await writeFile(join(b, 'tributary-agent'), Buffer.concat([original, Buffer.from('# changed\n')]));
  const prefix = join(ctx.dir, 'tampered-root');
  const r1 = await sh(installScript, ['--bundle', b, '--no-systemd', '--prefix', prefix]);
  t.not(r1.code, 0);
  t.regex(r1.stderr, /SHA-256 is not [0-9a-f]{64}: refusing it/);

  await writeFile(join(b, 'tributary-agent'), original);
  // A real signature by the same key, over another binary's digest.
  await writeFile(join(b, 'tributary-agent.sig'), sign(null, agentSigningPayload(createHash('sha256').update('something else').digest('hex')), ctx.privPem));
  const r2 = await sh(installScript, ['--bundle', b, '--no-systemd', '--prefix', prefix]);
  t.not(r2.code, 0);
  t.regex(r2.stderr, /signature does not verify/);
  t.false(existsSync(join(prefix, 'usr/local/bin/tributary-agent')));
});

test('fleet bundle refuses a binary whose signature does not verify with the master key, and a master without that binary', async (t) => {
  const binary = await standInBinary(join(ctx.dir, 'local-agent'));
  await writeFile(`${binary}.sig`, sign(null, agentSigningPayload(createHash('sha256').update('not this binary').digest('hex')), ctx.privPem));
  const r = await tributary(['fleet', 'bundle', '--id', 'dev-11', '--master', ctx.master.httpUrl, '--enrol-token', 't', '--binary', binary, '--master-key', join(ctx.dir, 'signing.pub'), '--out', join(ctx.dir, 'x.tar.gz')]);
  t.not(r.code, 0);
  t.regex(r.stderr, /TRIB_ERR_CONFIG_INVALID.*signature does not verify/);
  t.false(existsSync(join(ctx.dir, 'x.tar.gz')));

  const arm = await tributary(['fleet', 'bundle', '--id', 'dev-12', '--arch', 'arm64', '--master', ctx.master.httpUrl, '--enrol-token', 't', '--out', join(ctx.dir, 'y.tar.gz')]);
  t.not(arm.code, 0);
  t.regex(arm.stderr, /no agent binary latest for linux-arm64/);
});

test('bundles-from-inventory.mjs: one bundle per device, labels merged over the defaults, manifest, Ansible hosts and push.sh', async (t) => {
  const inventory = join(ctx.dir, 'inventory.json');
  await writeFile(inventory, JSON.stringify({
    master: 'https://master.example:8443',
    defaults: { arch: 'x64', labels: { site: 'plant-1', kind: 'press' }, ssh: { user: 'root' } },
    devices: [
      { id: 'press-01', host: '10.0.1.11', labels: { line: '1' }, enrolToken: 'tok-p1' },
      { id: 'oven-01', host: 'oven-01.lan', labels: { kind: 'oven' }, enrolToken: 'tok-o1', ssh: { user: 'admin', port: 2222 } },
    ],
  }));
  const out = join(ctx.dir, 'inventory-bundles');
  const r = await run(process.execPath, [join(installScript, '../bundles-from-inventory.mjs'), inventory, '--out', out, '--master', ctx.master.httpUrl, '--master-key', join(ctx.dir, 'signing.pub')]);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /press-01: wrote .*signed by the master/);
  const manifest = JSON.parse(await readFile(join(out, 'manifest.json'), 'utf8')) as Array<{ id: string; host: string; labels: Record<string, string>; bundle: string }>;
  t.deepEqual(manifest.map((m) => [m.id, m.host, m.labels, m.bundle]), [
    ['press-01', '10.0.1.11', { site: 'plant-1', kind: 'press', line: '1' }, 'press-01.tar.gz'],
    ['oven-01', 'oven-01.lan', { site: 'plant-1', kind: 'oven' }, 'oven-01.tar.gz'],
  ]);
  t.true((await readFile(join(out, 'hosts.ini'), 'utf8')).includes('oven-01 ansible_host=oven-01.lan ansible_port=2222 ansible_user=admin tributary_bundle=oven-01.tar.gz'));
  t.regex(await readFile(join(out, 'push.sh'), 'utf8'), /scp -P 2222 oven-01\.tar\.gz admin@oven-01\.lan:\/tmp\/oven-01\.tar\.gz && ssh -p 2222 admin@oven-01\.lan '.*\.\/tributary-oven-01\/install/);
  t.is((await run('sh', ['-n', join(out, 'push.sh')])).code, 0, 'push.sh parses');

  const prefix = join(ctx.dir, 'oven-root');
  const i = await sh(installScript, ['--bundle', join(out, 'oven-01.tar.gz'), '--no-systemd', '--prefix', prefix]);
  t.is(i.code, 0, i.stderr);
  t.regex(i.stdout, /binary verified/);
  t.like(JSON.parse(await readFile(join(prefix, 'etc/tributary/agent.json'), 'utf8')), { id: 'oven-01', master: 'https://master.example:8443', labels: { site: 'plant-1', kind: 'oven' } });
  t.is(await readFile(join(prefix, 'etc/tributary/enrol.env'), 'utf8'), 'TRIBUTARY_ENROL_TOKEN=tok-o1\n');
});

test('the installed agent, started with the unit\'s ExecStart line and nothing else, reads its config and registers', async (t) => {
  // `tributary agent` as the binary: the same command line, config file and environment as the single binary.
  const binary = join(ctx.dir, 'agent-cli');
  await writeFile(binary, `#!/bin/sh\nexec '${process.execPath}' '${join(repoRoot, 'cli/bin/tributary.js')}' agent "$@"\n`, { mode: 0o755 });
  const prefix = join(ctx.dir, 'e2e-root');
  // The operator's step: the device is added on the master, which answers its enrolment token.
  const added = await api(ctx.master.httpUrl, '/devices', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ id: 'dev-e2e', role: 'agent' }) });
  t.is(added.status, 201);
  const r = await sh(installScript, ['--prefix', prefix, '--no-systemd', '--binary', binary, '--master', ctx.master.httpUrl, '--id', 'dev-e2e', '--label', 'site=e2e', '--token', added.body.token]);
  t.is(r.code, 0, r.stderr);
  const unit = await readFile(join(prefix, 'etc/systemd/system/tributary-agent.service'), 'utf8');
  const execStart = /^ExecStart=(.*)$/m.exec(unit)![1]!.split(' ');
  t.deepEqual(execStart, [join(prefix, 'var/lib/tributary/agent/current'), '--config', join(prefix, 'etc/tributary/agent.json')]);
  // What systemd would do: the unit's EnvironmentFile (the enrolment token), then ExecStart.
  const envFile = /^EnvironmentFile=-?(.*)$/m.exec(unit)![1]!;
  const unitEnv = Object.fromEntries((await readFile(envFile, 'utf8')).split('\n').filter(Boolean).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
  t.is(unitEnv.TRIBUTARY_ENROL_TOKEN, added.body.token);
  const agent = new ChildNode('dev-e2e', spawn(execStart[0]!, execStart.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...unitEnv, TRIBUTARY_LOG_LEVEL: 'info', TRIBUTARY_BROKER_TLS: 'always' } }));
  t.teardown(() => agent.stop().then(() => undefined));
  const started = await agent.waitFor((l) => l.msg === 'agent started', 'agent started');
  t.like(started, { id: 'dev-e2e', labels: { site: 'e2e' } });
  // As on a real device, which the master is not on (here both are on loopback: TLS is asked for).
  t.regex(String(started.broker), /^mqtts:\/\//, 'enrolled: it connects by TLS with its certificate');
  await waitForNodesOnline(ctx.master.httpUrl, ['dev-e2e']);
  const node = await api(ctx.master.httpUrl, '/nodes/dev-e2e');
  t.like(node.body, { id: 'dev-e2e', kind: 'agent', labels: { site: 'e2e' } });
  t.true(existsSync(join(prefix, 'var/lib/tributary')), 'data dir from the config');
  t.is(await agent.stop(), 0);
});

test('online: install.sh downloads the binary for this machine from the master, checks hash and signature; a re-run downloads nothing', async (t) => {
  // systemd stand-ins (helpers/install.ts): the online path is the systemd path.
  const sys = await fakeSystem(join(ctx.dir, 'online'), '{"msg":"agent started"}');
  const prefix = join(ctx.dir, 'online-root');
  const args = ['--prefix', prefix, '--master', ctx.master.httpUrl, '--id', 'dev-20', '--token', 't20', '--master-key', join(ctx.dir, 'signing.pub'), '--require-signature', '--wait', '5'];
  const r = await sh(installScript, args, sys.env);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, new RegExp(`downloading ${ctx.master.httpUrl}/agent/latest/linux-x64`));
  t.regex(r.stdout, /binary verified: sha256 [0-9a-f]{64}, signed by the master/);
  t.deepEqual(await readFile(join(prefix, 'usr/local/bin/tributary-agent')), await readFile(join(ctx.agentDir, 'tributary-agent-linux-x64')));
  const again = await sh(installScript, args, sys.env);
  t.is(again.code, 0, again.stderr);
  t.notRegex(again.stdout, /downloading/);
  t.regex(again.stdout, /binary verified.*\n.*nothing changed/);
  // A key that did not sign it: refused, the installed binary stays.
  const other = generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }).toString();
  await writeFile(join(ctx.dir, 'other.pub'), other);
  const wrongKey = await sh(installScript, [...args, '--master-key', join(ctx.dir, 'other.pub')], sys.env);
  t.not(wrongKey.code, 0);
  t.regex(wrongKey.stderr, /signature does not verify with the master's key/);
});
