/**
 * Control messages are input: hello, heartbeat, checkpoint report, clock, desired state and
 * credits are decoded with a schema; what does not validate is counted and dropped, never cast.
 */
import test from 'ava';
import { join } from 'node:path';
import { cborEncoder, decodeControl, topics } from '@tributary/shared';
import { api, startMaster, startNode, until, waitForNodesOnline } from './helpers/cluster.js';
import { plainClient } from './helpers/mqtt.js';
import { tempDir } from './helpers/tmp.js';

const enc = (v: unknown) => cborEncoder.encode(v);
const hello = { kind: 'agent', labels: { site: 'plant-1' }, slots: 4, version: '0.1.0', now: 1_700_000_000_000, boot: 'b1' };
const task = { processor: 0, index: 0, in: 5, out: 5, late: 0, rejected: 0, queued: 0, maxQueued: 1, inputClock: -Infinity };

test('valid control messages decode, clocks may be ±Infinity', (t) => {
  t.deepEqual(decodeControl('hello', enc(hello)), { ok: true, value: hello });
  const hb = { now: 1, apps: { a: { epoch: 1, state: 'running', tasks: [task, { ...task, index: 1, inputClock: Infinity }], wire: { framesIn: 3 } } } };
  t.true(decodeControl('heartbeat', enc(hb)).ok);
  t.true(decodeControl('checkpoint', enc({ app: 'a', epoch: 1, processor: 0, index: 0, t: 1000, state: new Uint8Array([1, 2]) })).ok);
  t.true(decodeControl('clock', enc({ app: 'a', clock: -Infinity, at: 5 })).ok);
  t.true(decodeControl('credit', enc([[65536, 4]])).ok);
  const desired = { node: 'dev-1', boot: 'b1', apps: [{ app: 'a', epoch: 1, version: 2, bundle: { sha256: 'a'.repeat(64), url: 'http://m/bundles/x' }, params: {}, tasks: [{ processor: 0, index: 0, node: 'dev-1' }] }] };
  t.true(decodeControl('desired', enc(desired)).ok);
});

test('a desired state naming standbys (issue 14) decodes with them; one without still decodes; a bad standby is refused', (t) => {
  const bundle = { sha256: 'b'.repeat(64), url: 'http://m/bundles/b', signature: 'c2ln' };
  const standby = [{ app: 'plant-monitor', epoch: 3, bundle, params: { windowMs: '1000' }, submission: 1_700_000_000_000 }];
  const r = decodeControl('desired', enc({ node: 'w-2', apps: [], standby }));
  t.deepEqual(r.ok && r.value.standby, standby);
  const old = decodeControl('desired', enc({ node: 'w-2', apps: [] }));
  t.true(old.ok && old.value.standby === undefined, 'a master that sends no standbys is understood');
  const bad = decodeControl('desired', enc({ node: 'w-2', apps: [], standby: [{ ...standby[0], bundle: { ...bundle, sha256: 'nope' } }] }));
  t.false(bad.ok);
  if (!bad.ok) t.regex(bad.reason, /^desired: standby\.0\.bundle\.sha256/);
});

test('malformed control messages are refused with a reason, never thrown', (t) => {
  const bad: [Parameters<typeof decodeControl>[0], Uint8Array][] = [
    ['hello', new Uint8Array([0xff, 0x00, 0x13])],
    ['hello', enc({ ...hello, kind: 'master' })],
    ['hello', enc({ ...hello, slots: -1 })],
    ['hello', enc('online')],
    ['heartbeat', enc({ now: 1, apps: { a: { epoch: 1, state: 'running', tasks: [{ ...task, inputClock: Number.NaN }], wire: {} } } })],
    ['heartbeat', enc({ now: 1, apps: [] })],
    ['checkpoint', enc({ app: 'a', epoch: 1, processor: 0, index: 0, t: 'soon', state: null })],
    ['clock', enc({ app: '', clock: 1, at: 1 })],
    ['credit', enc([[1, -3]])],
    ['desired', enc({ node: 'dev-1', apps: [{ app: 'a', epoch: 1, version: 1, bundle: { sha256: 'nope', url: 'u' }, params: {}, tasks: [] }] })],
  ];
  for (const [kind, payload] of bad) {
    const r = decodeControl(kind, payload);
    t.false(r.ok, kind);
    if (!r.ok) t.regex(r.reason, new RegExp(`^${kind}: `));
  }
});

test.serial('a master drops malformed hellos, heartbeats and checkpoint reports, an agent a malformed desired state; both count them and go on', async (t) => {
  const dir = await tempDir();
  t.teardown(dir.cleanup);
  // The nodes' own decoders are under test: the broker's ACL (which would stop most of these
  // messages before they reach a node) is off for this master, so everything gets through.
  const master = await startMaster(join(dir.path, 'master'), ['--allow-anonymous-mqtt', 'on']);
  const agent = await startNode('agent', 'dev-1', master.brokerUrl, dir.path);
  t.teardown(async () => {
    await agent.stop();
    await master.proc.stop();
  });
  await waitForNodesOnline(master.httpUrl, ['dev-1']);
  const client = await plainClient(t, master.brokerUrl);
  await client.publishAsync(topics.hello('forged'), Buffer.from(enc({ ...hello, kind: 'master' })), { qos: 1 });
  await client.publishAsync(topics.heartbeat('dev-1'), Buffer.from([0xff, 0xfe]), { qos: 1 });
  await client.publishAsync(topics.heartbeat('dev-1'), Buffer.from(enc({ now: 1, apps: { x: { state: 'exploded' } } })), { qos: 1 });
  await client.publishAsync(topics.checkpoint('dev-1'), Buffer.from(enc({ app: 42 })), { qos: 1 });
  const rejected = await until('4 rejections counted', async () => {
    const res = await fetch(new URL('/metrics', master.httpUrl));
    const n = Number(/^tributary_control_rejected_total (\d+)/m.exec(await res.text())?.[1]);
    return n >= 4 ? n : undefined;
  });
  t.is(rejected, 4);
  const { body: nodes } = await api(master.httpUrl, '/nodes');
  t.deepEqual(nodes.map((n: { id: string; online: boolean }) => [n.id, n.online]), [['dev-1', true]], 'no forged node, dev-1 still online');

  // A forged desired state for the agent: refused by the agent's schema, counted, nothing applied.
  await client.publishAsync(topics.control('dev-1'), Buffer.from(enc({ node: 'dev-1', apps: [{ app: 'evil', bundle: 'http://x/evil.js' }] })), { qos: 1 });
  const refused = await agent.waitFor((l) => l.event === 'control-rejected', 'the forged desired state refused');
  t.regex(String(refused.reason), /^desired: apps\.0\./);
  const { body: after } = await api(master.httpUrl, '/nodes/dev-1');
  t.true(after.online);
  t.deepEqual(Object.keys(after.apps ?? {}), [], 'nothing runs on dev-1');
  // The agent's count reaches the master with its next heartbeat (GET /nodes `controlRejected`).
  const counted = await until('the refusal in a heartbeat', async () => {
    const { body } = await api(master.httpUrl, '/nodes');
    const n = body.find((x: { id: string }) => x.id === 'dev-1')?.controlRejected;
    return n >= 1 ? n : undefined;
  });
  t.is(counted, 1);
});
