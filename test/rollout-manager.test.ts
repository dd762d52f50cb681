import test, { type ExecutionContext } from 'ava';
import { generateKeyPairSync } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { cborEncoder, createLogger, type AgentUpdateReport, type NodeHeartbeat, type NodeHello } from '@tributary/shared';
import { AgentArtefacts } from '../cloud-core/src/master/agent-artefacts.js';
import { LevelMasterStore } from '../cloud-core/src/master/level-master-store.js';
import { Registry } from '../cloud-core/src/master/registry.js';
import { RolloutManager } from '../cloud-core/src/master/rollout-manager.js';
import { planWaves } from '../cloud-core/src/master/rollout-types.js';
import { tempDir } from './helpers/tmp.js';

/**
 * The rollout engine on its own (cloud-core/src/master/rollout-manager.ts): a real registry and
 * LevelDB store, devices played by hellos and heartbeats, the clock and the evaluations driven by
 * the test. Waves, abort with rollback, timeouts, supersession and a restart that resumes.
 */
const log = createLogger({ level: 'silent' });

async function setup(t: ExecutionContext, n: number) {
  const dir = await tempDir('trib-rollouts-');
  t.teardown(dir.cleanup);
  for (const v of ['v1', 'v2', 'v3']) {
    await mkdir(join(dir.path, 'agents', v), { recursive: true });
    await writeFile(join(dir.path, 'agents', v, 'tributary-agent-linux-x64'), `binary ${v}`);
  }
  const signingKey = generateKeyPairSync('ed25519').privateKey;
  const store = new LevelMasterStore(join(dir.path, 'm.db'));
  await store.open();
  const registry = new Registry(store, 3_600_000, log);
  await registry.load();
  t.teardown(async () => { registry.stop(); await store.close(); });
  const clock = { t: 1_000_000 };
  const published: string[] = [];
  const manager = async () => {
    const m = new RolloutManager({
      store, registry, artefacts: new AgentArtefacts({ agentDir: join(dir.path, 'agents'), signingKey }), publicUrl: () => 'http://master',
      publish: async (node) => { published.push(node); }, log, tickMs: 3_600_000, now: () => clock.t,
    });
    await m.load();
    t.teardown(() => m.stop());
    return m;
  };
  const ids = Array.from({ length: n }, (_, i) => `d${i + 1}`);
  let seq = 0;
  const report = (id: string, agent: Omit<AgentUpdateReport, 'arch' | 'slots' | 'seq'>) => {
    const hb: NodeHeartbeat = { now: clock.t, apps: {}, agent: { arch: 'x64', slots: true, seq: ++seq, ...agent } };
    registry.onHeartbeat(id, Buffer.from(cborEncoder.encode(hb)));
  };
  for (const id of ids) {
    const hello: NodeHello = { kind: 'agent', labels: { site: 'p1' }, slots: 4, version: 'v1', now: clock.t, boot: 'b', agent: { version: 'v1', arch: 'x64', slots: true, state: 'idle' } };
    registry.onHello(id, Buffer.from(cborEncoder.encode(hello)));
    registry.onStatus(id, Buffer.from('online'));
  }
  return { manager, ids, report, clock, published, store };
}

const spec = { kind: 'agent' as const, selector: { site: 'p1' }, canary: 1, waves: { base: 1, factor: 2 }, maxFailuresPercent: 30, stepTimeoutMs: 60_000 };

test('waves: the canary, then base·factor^i devices', (t) => {
  t.deepEqual(planWaves(['e', 'a', 'c', 'b', 'd', 'f', 'g'], 1, 2, 2), [['a'], ['b', 'c'], ['d', 'e', 'f', 'g']]);
  t.deepEqual(planWaves(['a', 'b'], 0, 1, 1), [['a'], ['b']]);
});

test('a failure past the threshold aborts: the updated canary is rolled back, later devices cancelled, each with a reason', async (t) => {
  const { manager, ids, report, published } = await setup(t, 4);
  const m = await manager();
  const r = await m.create({ ...spec, version: 'v2' });
  t.deepEqual(r.plan, [['d1'], ['d2'], ['d3', 'd4']]);
  t.like(r.steps.d1, { state: 'updating', from: 'v1', desired: 'v2' });
  // The URL names the device: the master counts the bytes it sends each (DeviceTraffic).
  t.like(await m.agentFor('d1'), { version: 'v2', url: 'http://master/agent/v2/linux-x64?node=d1' });
  t.deepEqual(published, ['d1'], 'only the canary is told');
  report('d1', { version: 'v2', state: 'committed', target: 'v2' });
  await m.tick();
  t.like(m.get(r.id)!.steps.d1, { state: 'succeeded' });
  t.like(m.get(r.id)!.steps.d2, { state: 'updating' });
  report('d2', { version: 'v1', state: 'rolled-back', target: 'v2', reason: 'crash loop: 3 starts without proving healthy' });
  await m.tick();
  const aborting = m.get(r.id)!;
  t.is(aborting.state, 'aborting');
  t.regex(aborting.reason!, /1 of 2 device steps failed \(threshold 30%\)/);
  t.like(aborting.steps.d2, { state: 'failed' });
  t.regex(aborting.steps.d2!.reason!, /crash loop/);
  t.like(aborting.steps.d1, { state: 'rolling-back', desired: 'v1' });
  t.like(await m.agentFor('d1'), { version: 'v1' });
  for (const id of ['d3', 'd4']) t.like(aborting.steps[id], { state: 'cancelled' });
  report('d1', { version: 'v1', state: 'committed', target: 'v1' });
  await m.tick();
  t.is(m.get(r.id)!.state, 'aborted');
  t.like(m.get(r.id)!.steps.d1, { state: 'rolled-back' });
  t.deepEqual(m.outcomes, { succeeded: 1, failed: 1, cancelled: 2, 'rolled-back': 1 });
  t.true(ids.every((id) => m.get(r.id)!.steps[id]!.reason), 'every step has a reason');
});

test('a device that never reports the new version times out; the rollout aborts rather than waits forever', async (t) => {
  const { manager, report, clock } = await setup(t, 2);
  const m = await manager();
  const r = await m.create({ ...spec, version: 'v2', maxFailuresPercent: 0 });
  report('d1', { version: 'v1', state: 'downloading', target: 'v2' });
  clock.t += 60_001;
  await m.tick();
  t.like(m.get(r.id)!.steps.d1, { state: 'timed-out', desired: 'v1' });
  t.regex(m.get(r.id)!.steps.d1!.reason!, /no healthy report of v2 within 60000 ms \(last: v1 downloading\)/);
  t.is(m.get(r.id)!.state, 'aborted');
});

test('a newer rollout supersedes a running one: its open steps end superseded, the new one drives the devices', async (t) => {
  const { manager } = await setup(t, 3);
  const m = await manager();
  const a = await m.create({ ...spec, version: 'v3' });
  const b = await m.create({ ...spec, version: 'v2' });
  t.is(m.get(a.id)!.state, 'superseded');
  t.like(m.get(a.id)!.steps.d1, { state: 'superseded', reason: `superseded by rollout ${b.id}` });
  t.like(m.get(a.id)!.steps.d2, { state: 'superseded' });
  t.is(m.get(b.id)!.state, 'running');
  t.like(await m.agentFor('d1'), { version: 'v2' });
});

test('a restarted master resumes a rollout from the store, wave and desired versions included', async (t) => {
  const { manager, report } = await setup(t, 3);
  const first = await manager();
  const r = await first.create({ ...spec, version: 'v2' });
  report('d1', { version: 'v2', state: 'committed', target: 'v2' });
  await first.tick();
  first.stop();
  const second = await manager();
  const resumed = second.get(r.id)!;
  t.is(resumed.state, 'running');
  t.is(resumed.wave, 1);
  t.like(await second.agentFor('d2'), { version: 'v2' });
  report('d2', { version: 'v2', state: 'committed', target: 'v2' });
  await second.tick();
  report('d3', { version: 'v2', state: 'committed', target: 'v2' });
  await second.tick();
  t.is(second.get(r.id)!.state, 'succeeded');
});

test('a version the master has no signed binary for, or a selector that matches nobody, is refused', async (t) => {
  const { manager } = await setup(t, 1);
  const m = await manager();
  await t.throwsAsync(m.create({ ...spec, version: 'v9' }), { message: /no signed agent binary v9/ });
  await t.throwsAsync(m.create({ ...spec, version: 'v2', selector: { site: 'nowhere' } }), { message: /no agent matches/ });
});
