import test, { type ExecutionContext } from 'ava';
import { createHash, generateKeyPairSync, sign } from 'node:crypto';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { agentConfigSchema, configSigningPayload, createLogger, loadConfig, type DesiredConfig, type NodeHealth } from '@tributary/shared';
import { ConfigLayer } from '../edge-agent/src/update/config-layer.js';
import { settleAtStart } from '../edge-agent/src/update/config-start.js';
import { RemoteConfig, withRemoteConfig } from '../edge-agent/src/update/remote-config.js';
import { tempDir } from './helpers/tmp.js';

/**
 * Remote agent configurations on one device, without a master (issue 16, the agent's side of
 * `tributary fleet rollout config`): the layer on disk (edge-agent/src/update/config-layer.ts),
 * what the agent does with it at start (config-start.ts) and when a desired state carries one
 * (remote-config.ts), with real files and the real config loader. Each "start" here is what
 * runAgent does at the top of a process: settleAtStart, then a RemoteConfig over what it found.
 * Real agent processes: test/agent-config-agent.test.ts.
 */
const log = createLogger({ level: 'silent' });
const master = generateKeyPairSync('ed25519');
const stranger = generateKeyPairSync('ed25519');
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

function desired(settings: unknown, key = master.privateKey): DesiredConfig {
  const body = Buffer.from(JSON.stringify(settings));
  return { sha256: sha(body), body, signature: sign(null, configSigningPayload(sha(body)), key).toString('base64') };
}

async function device(t: ExecutionContext, file: Record<string, unknown> = {}) {
  const dir = await tempDir('trib-config-');
  t.teardown(dir.cleanup);
  const configFile = join(dir.path, 'agent.json');
  const data = join(dir.path, 'data');
  await writeFile(configFile, JSON.stringify({ id: 'dev-1', data, labels: { site: 'plant-1' }, ...file }));
  const keyFile = join(dir.path, 'master-signing.pub');
  await writeFile(keyFile, master.publicKey.export({ type: 'spki', format: 'pem' }));
  const agentDir = join(data, 'agent');
  const load = (remote?: Record<string, unknown>) => loadConfig(agentConfigSchema, { file: configFile, env: {}, flags: { heartbeatMs: 900 }, ...(remote ? { remote } : {}) });
  /** One start of the agent: the layer settled, the config loaded, a RemoteConfig to drive. */
  const start = (over: Partial<ConstructorParameters<typeof RemoteConfig>[0]> = {}) => {
    const settled = settleAtStart(agentDir, load);
    const restarts: string[] = [];
    let restarted: (r: string) => void = () => {};
    const restart = new Promise<string>((r) => { restarted = r; });
    const changes: (() => void)[] = [];
    const rc = new RemoteConfig({
      dir: agentDir, keyFiles: [keyFile], settled, deadlineSeconds: 60, healthyForMs: 0, validate: (s) => void load(s),
      canRestart: true, busy: () => false, log, restart: (r) => { restarts.push(r); restarted(r); }, changed: () => changes.forEach((f) => f()), ...over,
    });
    const reaches = (state: string) => new Promise<void>((r) => changes.push(() => { if (rc.report().state === state) r(); }));
    return { settled, rc, restarts, restart, reaches };
  };
  /** Applies `target`, then starts again and watches it healthy until committed (a layer in force). */
  const commit = async (target: ReturnType<typeof desired>) => {
    start().rc.apply(target);
    const b = start();
    const committed = b.reaches('committed');
    b.rc.watch(() => ({ ok: true, reason: 'healthy' }));
    await committed;
  };
  return { dir: dir.path, agentDir, keyFile, store: new ConfigLayer(agentDir), start, commit };
}

const good = { labels: { site: 'plant-1', ring: 'canary' }, heartbeatMs: 700, replayQuotaMb: 32 };

test('a signed configuration is kept on trial and restarts the agent; the next start runs with it over the file (flags still win) and commits once healthy', async (t) => {
  const d = await device(t);
  const a = d.start();
  t.deepEqual(a.rc.report(), { version: 'none', state: 'idle' });
  t.is(a.settled.config.replayQuotaMb, 0);
  const target = desired(good);
  a.rc.apply(target);
  t.is(await a.restart, `configuration ${target.sha256}`);
  t.deepEqual(await readFile(join(d.agentDir, 'config.json')), Buffer.from(target.body));
  t.like(d.store.trial(), { sha256: target.sha256, starts: 0 });

  const b = d.start();
  t.true(b.settled.onTrial);
  t.deepEqual(b.settled.config.labels, { site: 'plant-1', ring: 'canary' }, 'the remote layer over the file');
  t.is(b.settled.config.replayQuotaMb, 32);
  t.is(b.settled.config.heartbeatMs, 900, 'a flag still wins over the remote layer');
  t.like(b.rc.report(), { version: target.sha256, state: 'trial', target: target.sha256 });
  const committed = b.reaches('committed');
  b.rc.watch(() => ({ ok: true, reason: 'healthy' }));
  await committed;
  t.like(b.rc.report(), { version: target.sha256, state: 'committed', reason: 'healthy' });
  t.is(d.store.trial(), null);
  t.like(d.store.result(), { state: 'committed', sha256: target.sha256 });

  // The same configuration again is a no-op; the agent's report carries it with one seq for both.
  const seq = b.rc.seq;
  b.rc.apply(target);
  t.is(b.rc.seq, seq);
  t.deepEqual(b.restarts, []);
  const both = withRemoteConfig({ report: () => ({ version: 'v1', arch: 'x64', slots: true, state: 'idle', seq: 2 }), apply: () => {} }, b.rc);
  t.like(both.report(), { version: 'v1', seq: 2 + seq, config: { version: target.sha256, state: 'committed' } });
});

test('a tampered body, a wrong key, a forbidden or unknown setting, a non-object or an invalid merge are refused with a reason; nothing changes and the same SHA-256 is not tried again', async (t) => {
  const d = await device(t);
  const ok = desired(good);
  const tampered: DesiredConfig = { ...ok, body: Buffer.from(JSON.stringify({ ...good, heartbeatMs: 100 })) };
  const cases: [string, DesiredConfig, RegExp][] = [
    ['tampered', tampered, /its SHA-256 is [0-9a-f]{64}, not the one the master named/],
    ['wrong key', desired(good, stranger.privateKey), /signature does not verify/],
    ['id', desired({ id: 'dev-2', heartbeatMs: 700 }), /it sets id, which say who and where the agent is/],
    ['master', desired({ master: 'mqtt://evil:1883', data: '/tmp' }), /it sets master, data, which/],
    ['unknown', desired({ heartbeatMS: 700 }), /agents have no setting heartbeatMS/],
    ['array', desired([1, 2]), /not a JSON object/],
    ['schema', desired({ slots: 0 }), /does not validate \(invalid configuration: slots \(remote configuration\)/],
  ];
  for (const [what, target, reason] of cases) {
    const a = d.start();
    a.rc.apply(target);
    t.like(a.rc.report(), { version: 'none', state: 'failed', target: target.sha256 }, what);
    t.regex(a.rc.report().reason!, reason, what);
    t.regex(a.rc.report().reason!, /: refused$/, what);
    t.deepEqual(a.restarts, [], `${what}: no restart`);
    t.is(d.store.current(), null, `${what}: no layer`);
    t.is(d.store.trial(), null, `${what}: no trial`);
    // Desired states repeat: the same one again changes nothing, not even the report's seq.
    const seq = a.rc.seq;
    a.rc.apply(target);
    t.is(a.rc.seq, seq, `${what}: not tried again`);
  }
  const noKey = d.start({ keyFiles: [join(d.dir, 'nope.pub')] });
  noKey.rc.apply(ok);
  t.regex(noKey.rc.report().reason!, /no master signing key/);
  const noSlots = d.start({ canRestart: false });
  noSlots.rc.apply(ok);
  t.like(noSlots.rc.report(), { state: 'failed', target: ok.sha256 });
  t.regex(noSlots.rc.report().reason!, /^no slots/);
  t.is(d.store.current(), null);
});

test('a configuration never healthy goes back by itself at its deadline; the agent restarts on the previous layer, reports rolled-back and never tries it again', async (t) => {
  const d = await device(t);
  const first = desired(good);
  await d.commit(first);

  const bad = desired({ ...good, isolation: 'thread', appHeapMb: 1 });
  d.start().rc.apply(bad);
  const c = d.start({ deadlineSeconds: 1 });
  t.like(c.rc.report(), { version: bad.sha256, state: 'trial' });
  // Its deadline was set when it was applied: one already past ends the trial at the first check.
  d.store.setTrial({ ...d.store.trial()!, deadline: Math.floor(Date.now() / 1000) - 1 });
  c.rc.watch((): NodeHealth => ({ ok: false, reason: 'application plant is failed: Worker terminated due to reaching memory limit' }));
  t.regex(await c.restart, /health check failed: not healthy by the deadline \(application plant is failed: Worker terminated/);
  t.deepEqual(await readFile(join(d.agentDir, 'config.json')), Buffer.from(first.body), 'the previous layer is back');

  const e = d.start();
  t.false(e.settled.onTrial);
  t.is(e.settled.config.isolation, 'inline');
  t.like(e.rc.report(), { version: first.sha256, state: 'rolled-back', target: bad.sha256 });
  t.regex(e.rc.report().reason!, /not healthy by the deadline/);
  e.rc.apply(bad);
  t.deepEqual(e.restarts, []);
  t.like(e.rc.report(), { state: 'rolled-back', target: bad.sha256 }, 'reported already: unchanged');
  const later = d.start();
  later.rc.apply(desired({ heartbeatMs: 1234 }, stranger.privateKey)); // another change reported in between
  t.regex(later.rc.report().reason!, /signature does not verify/);
  later.rc.apply(bad);
  t.regex(later.rc.report().reason!, /not tried again, this configuration failed here before/);
  t.deepEqual(later.restarts, []);
});

test('a crash loop on trial (starts counted on disk) brings the previous layer back at the fourth start', async (t) => {
  const d = await device(t);
  const target = desired(good);
  d.start().rc.apply(target);
  for (let start = 1; start <= 3; start++) {
    const s = d.start();
    t.true(s.settled.onTrial, `start ${start}`);
    t.like(d.store.trial(), { starts: start });
  }
  const s = d.start();
  t.false(s.settled.onTrial);
  t.is(s.settled.version, 'none');
  t.is(s.settled.config.replayQuotaMb, 0, 'the file alone again');
  t.like(s.rc.report(), { version: 'none', state: 'rolled-back', target: target.sha256, reason: 'crash loop: 3 starts without proving healthy' });
  t.true(s.settled.notes.some((n) => n.event === 'config-rolled-back'));
  t.is(d.store.current(), null);
});

test('a layer on trial that cannot even be loaded at start (schema error) goes back at once instead of crashing the agent', async (t) => {
  const d = await device(t);
  const first = desired({ replayQuotaMb: 8 });
  d.store.stage(first.body, first.sha256, 60);
  d.store.commit(first.sha256);
  // Valid when applied, not any more (e.g. the file changed): staged directly, as an apply leaves it.
  const broken = Buffer.from(JSON.stringify({ slots: 0 }));
  d.store.stage(broken, sha(broken), 60);
  const s = d.start();
  t.is(s.settled.version, first.sha256);
  t.is(s.settled.config.replayQuotaMb, 8);
  t.like(s.rc.report(), { state: 'rolled-back', target: sha(broken) });
  t.regex(s.rc.report().reason!, /cannot be loaded: invalid configuration: slots \(remote configuration\)/);
  t.is(d.store.trial(), null);
});

test('an interrupted write (temporary file, trial written, rename never done) leaves the previous layer in force', async (t) => {
  const d = await device(t);
  const first = desired(good);
  await d.commit(first);
  // What stage() leaves when the power goes before its rename: the new bytes in a temporary file
  // (here cut short), the previous copy and the trial written, config.json untouched.
  const next = desired({ heartbeatMs: 2000 });
  await writeFile(join(d.agentDir, '.config.json.dead'), Buffer.from(next.body).subarray(0, 7));
  await writeFile(join(d.agentDir, 'config.previous.json'), first.body);
  d.store.setTrial({ starts: 0, deadline: Math.floor(Date.now() / 1000) + 60, sha256: next.sha256 });
  const c = d.start();
  t.is(c.settled.version, first.sha256);
  t.deepEqual(c.settled.config.labels, good.labels);
  t.false(c.settled.onTrial);
  t.is(d.store.trial(), null);
  t.like(c.rc.report(), { version: first.sha256, state: 'failed', target: next.sha256 });
  t.regex(c.rc.report().reason!, /did not happen \(interrupted\)/);
  t.false((await readdir(d.agentDir)).some((n) => n.startsWith('.config')), 'temporaries removed');
  t.true(c.settled.notes.some((n) => n.event === 'config-write-interrupted'));
  // And it can be applied afterwards.
  c.rc.apply(next);
  t.is(await c.restart, `configuration ${next.sha256}`);
});
