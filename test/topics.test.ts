import test from 'ava';
import {
  createLogger,
  ErrorCodes,
  TributaryError,
  canPublish,
  canSubscribe,
  connectMqttTransport,
  matchesFilter,
  MAX_ID_LENGTH,
  mosquittoAclFor,
  touchesFabricTopics,
  parseTopic,
  topics,
  type MqttTransport,
  type Transport,
  type TransportOptions,
} from '@tributary/shared';
import { startEmbeddedBroker } from '../cloud-core/src/broker/index.js';
import { startMosquitto } from './helpers/mosquitto.js';

const silentLog = createLogger({ level: 'silent' });

test('builders produce the documented layout and parseTopic inverts them', (t) => {
  const cases: Array<[string, ReturnType<typeof parseTopic>]> = [
    [topics.status('n1'), { kind: 'status', nodeId: 'n1' }],
    [topics.hello('n1'), { kind: 'hello', nodeId: 'n1' }],
    [topics.heartbeat('n1'), { kind: 'heartbeat', nodeId: 'n1' }],
    [topics.clock('n1'), { kind: 'clock', nodeId: 'n1' }],
    [topics.events('n1'), { kind: 'events', nodeId: 'n1' }],
    [topics.checkpoint('n1'), { kind: 'checkpoint', nodeId: 'n1' }],
    [topics.data('n1', 'w2', 'app', '3.0'), { kind: 'data', from: 'n1', to: 'w2', appId: 'app', taskAddr: '3.0' }],
    [topics.credit('w2', 'n1', 'app', '1.4'), { kind: 'credit', from: 'w2', to: 'n1', appId: 'app', taskAddr: '1.4' }],
    [topics.control('n1'), { kind: 'control', nodeId: 'n1' }],
    [topics.appClock('app'), { kind: 'appClock', appId: 'app' }],
    [topics.broadcast(), { kind: 'broadcast' }],
    [topics.status('master'), { kind: 'status', nodeId: 'master' }],
  ];
  t.deepEqual(
    cases.map(([topic]) => topic),
    [
      'trib/n1/status', 'trib/n1/hello', 'trib/n1/hb', 'trib/n1/clock', 'trib/n1/events', 'trib/n1/ckpt',
      'trib/n1/data/w2/app/3.0', 'trib/w2/credit/n1/app/1.4',
      'trib/master/ctl/n1', 'trib/master/clock/app', 'trib/master/broadcast', 'trib/master/status',
    ],
  );
  for (const [topic, parsed] of cases) t.deepEqual(parseTopic(topic), parsed, topic);

  t.is(topics.dataFilterFor('w2'), 'trib/+/data/w2/#');
  t.is(topics.creditFilterFor('w2'), 'trib/+/credit/w2/#');
  t.is(topics.nodeKindFilter('heartbeat'), 'trib/+/hb');
  t.true(matchesFilter(topics.dataFilterFor('w2'), topics.data('n1', 'w2', 'app', '0')));
  t.false(matchesFilter(topics.dataFilterFor('w2'), topics.data('w2', 'n1', 'app', '0')));
  t.deepEqual(topics.masterSubscriptions(), ['trib/+/status', 'trib/+/hello', 'trib/+/hb', 'trib/+/clock', 'trib/+/events', 'trib/+/ckpt']);
});

test('parseTopic returns null for anything that is not a Tributary topic', (t) => {
  for (const topic of [
    '', 'trib', 'trib/n1', 'other/n1/status', 'trib/n1/unknown', 'trib//status', 'trib/n1/status/extra',
    'trib/n1/ctl/n2', 'trib/master/ctl', 'trib/master/nope/x', 'trib/n1/data/w2/app', 'trib/n1/data/w2/app/t/x',
    'trib/n1/broadcast', '$SYS/broker/uptime',
  ]) {
    t.is(parseTopic(topic), null, topic);
  }
});

test('invalid ids are programmer errors (TypeError)', async (t) => {
  const bad: unknown[] = ['', 'a/b', 'a+', '#', 'x'.repeat(MAX_ID_LENGTH + 1), 'nul\u0000', 42, undefined];
  for (const id of bad) {
    t.throws(() => topics.status(id as string), { instanceOf: TypeError }, String(id));
    t.throws(() => topics.data('a', 'b', id as string, 't'), { instanceOf: TypeError });
    t.throws(() => topics.data('a', 'b', 'app', id as string), { instanceOf: TypeError });
    t.throws(() => topics.dataFilterFor(id as string), { instanceOf: TypeError });
  }
  t.is(topics.status('x'.repeat(MAX_ID_LENGTH)), `trib/${'x'.repeat(MAX_ID_LENGTH)}/status`);
  await t.throwsAsync(connectMqttTransport({ url: 'mqtt://127.0.0.1:1', clientId: 'a/b' }), { instanceOf: TypeError });
});

test('the policy: nodes write their own prefix and read what is addressed to them', (t) => {
  const a = { id: 'a' };
  const master = { id: 'master', role: 'master' };
  t.true(canPublish(a, topics.status('a')));
  t.true(canPublish(a, topics.data('a', 'b', 'app', 't')));
  t.false(canPublish(a, topics.status('b')));
  t.false(canPublish(a, topics.data('b', 'a', 'app', 't')));
  t.false(canPublish(a, topics.broadcast()));
  t.false(canPublish(a, '$SYS/x'));
  // The prefix fast path keeps MQTT's semantics: `trib/a/#` matches `trib/a`, not `trib/ab/…`.
  t.true(canPublish(a, 'trib/a'));
  t.false(canPublish(a, 'trib/ab/status'));
  t.false(canPublish(a, 'trib'));
  t.true(touchesFabricTopics('trib') && touchesFabricTopics('+/x') && touchesFabricTopics('#') && touchesFabricTopics('$SYS/x'));
  t.false(touchesFabricTopics('plant/windows') || touchesFabricTopics('tribx/y'));
  t.true(canSubscribe(a, topics.dataFilterFor('a')));
  t.true(canSubscribe(a, topics.data('x', 'a', 'app', 't')));
  for (const filter of topics.nodeSubscriptions('a')) t.true(canSubscribe(a, filter), filter);
  for (const filter of [topics.dataFilterFor('b'), 'trib/+/data/+/#', '#', 'trib/#', topics.status('b'), topics.control('b')]) {
    t.false(canSubscribe(a, filter), filter);
  }
  for (const filter of topics.masterSubscriptions()) t.true(canSubscribe(master, filter), filter);
  t.true(canSubscribe(master, 'trib/#'));
  t.true(canPublish(master, topics.control('a')));
  t.true(canPublish({ id: 'master-standby', role: 'master' }, topics.appClock('app')));
  t.false(canPublish(master, topics.status('a')));
  // The master's rules bind to the role, not to the id.
  t.false(canSubscribe({ id: 'master', role: 'worker' }, 'trib/#'));
  t.false(canPublish({ id: 'x', role: 'worker' }, topics.control('a')));
  // Client ids that cannot be a topic level get no pattern rights at all (as in Mosquitto 2).
  t.false(canPublish({ id: 'a/b' }, 'trib/a/b/status'));
  t.false(canSubscribe({ id: '+' }, 'trib/+/data/+/#'));
  // Mosquitto: the identity is the username (use_identity_as_username), or the client id on an anonymous broker.
  const acl = mosquittoAclFor();
  t.regex(acl, /^pattern write trib\/%u\/#$/m);
  t.regex(acl, /^pattern read trib\/\+\/data\/%u\/#$/m);
  t.notRegex(acl, /%c/);
  t.regex(acl, /^user master\ntopic read trib\/#$/m);
  const byClientId = mosquittoAclFor({ identity: 'clientid' });
  t.regex(byClientId, /^pattern write trib\/%c\/#$/m);
  t.notRegex(byClientId, /%u/);
});

/** Records what a transport receives; `text` awaits a (past or future) message with that payload. */
function collect(transport: Transport, filter: string) {
  const messages: Array<{ topic: string; text: string }> = [];
  const waiters = new Set<{ text: string; resolve: () => void }>();
  transport.onMessage((topic, payload) => {
    if (!matchesFilter(filter, topic)) return;
    const text = payload.toString();
    messages.push({ topic, text });
    for (const w of waiters) if (w.text === text) (waiters.delete(w), w.resolve());
  });
  const text = (t: string): Promise<void> =>
    messages.some((m) => m.text === t) ? Promise.resolve() : new Promise((resolve) => waiters.add({ text: t, resolve }));
  return { messages, text, texts: () => messages.map((m) => m.text) };
}

interface AclBroker {
  url: string;
  stop(): Promise<void>;
}

/**
 * The same per-node policy enforced by the embedded broker (`enforceTopicAcl`) and by Mosquitto
 * with the generated ACL file. MQTT 3.1.1 tells an unauthorized publisher nothing, so each
 * negative case is proved by a later allowed message from the same publisher to the same
 * receiver being the only one that arrives.
 */
function runAclSuite(name: string, start: () => Promise<AclBroker>, brokerRefusesSubscriptions: boolean, usernameIsId = false): void {
  const cleanups: Array<() => Promise<unknown>> = [];
  test.after.always(`${name}: stop broker and clients`, async () => {
    await Promise.allSettled(cleanups.splice(0).map((c) => c()));
  });

  test(`${name}: the broker enforces the per-node topic ACL`, async (t) => {
    t.timeout(20_000);
    const broker = await start();
    cleanups.push(() => broker.stop());
    const client = async (clientId: string, extra: Partial<TransportOptions> = {}): Promise<MqttTransport> => {
      const c = await connectMqttTransport({ url: broker.url, clientId, log: silentLog, reconnectMs: 100, ...(usernameIsId ? { username: clientId } : {}), ...extra });
      cleanups.unshift(() => c.close({ force: true }));
      return c;
    };
    const master = await client('master', { username: 'master' });
    await master.subscribe(topics.masterSubscriptions());
    const masterStatus = collect(master, topics.nodeKindFilter('status'));
    const [a, b, c, x] = [await client('a'), await client('b', {
      birth: { topic: topics.status('b'), payload: 'online', qos: 1, retain: true },
    }), await client('c'), await client('x')];
    await masterStatus.text('online');
    // Every filter a node needs is allowed.
    await a.subscribe(topics.nodeSubscriptions('a'));
    await c.subscribe(topics.nodeSubscriptions('c'));
    const aData = collect(a, topics.dataFilterFor('a'));
    const aBroadcast = collect(a, topics.broadcast());
    const aControl = collect(a, topics.control('a'));
    const cData = collect(c, topics.dataFilterFor('c'));

    // a publishes under its own prefix; c receives its own data topic.
    await a.publish(topics.data('a', 'c', 'app', 't'), 'own', { qos: 1 });
    // a cannot publish as b: the broker acknowledges (no error in MQTT 3.1.1) and drops it.
    await a.publish(topics.data('b', 'c', 'app', 't'), 'forged data', { qos: 1 });
    await a.publish(topics.data('a', 'c', 'app', 't'), 'control 1', { qos: 1 });
    await cData.text('control 1');
    t.deepEqual(cData.texts(), ['own', 'control 1']);

    // a cannot receive data addressed to b, whatever it subscribes to.
    for (const filter of [topics.dataFilterFor('b'), 'trib/#']) {
      const outcome = await a.subscribe(filter).then(() => 'granted', (err: TributaryError) => err.code);
      t.is(outcome, brokerRefusesSubscriptions ? ErrorCodes.SUBSCRIBE_REFUSED : 'granted', filter);
    }
    const aAll = collect(a, '#');
    await x.publish(topics.data('x', 'b', 'app', 't'), 'for b', { qos: 1 });
    await x.publish(topics.data('x', 'a', 'app', 't'), 'for a', { qos: 1 });
    await aData.text('for a');
    // (Mosquitto may deliver one copy per matching subscription.)
    t.deepEqual([...new Set(aAll.messages.map((m) => `${m.topic} ${m.text}`))], [`${topics.data('x', 'a', 'app', 't')} for a`]);

    // a cannot declare b dead (status is retained and read by the master).
    await a.publish(topics.status('b'), 'offline', { qos: 1, retain: true });
    await a.publish(topics.status('a'), 'control 2', { qos: 1, retain: true });
    await masterStatus.text('control 2');
    t.deepEqual(masterStatus.texts(), ['online', 'control 2']);
    const standby = await client('master-standby', { username: 'master' });
    const standbyStatus = collect(standby, topics.status('b'));
    await standby.subscribe(topics.status('b'));
    await standbyStatus.text('online'); // the retained status of b is still b's own

    // a cannot impersonate the master; the master reaches a on its control topic.
    await a.publish(topics.broadcast(), 'forged broadcast', { qos: 1 });
    await a.publish(topics.control('a'), 'forged control', { qos: 1 });
    await a.publish(topics.data('a', 'a', 'app', 't'), 'control 3', { qos: 1 });
    await aData.text('control 3');
    await master.publish(topics.control('a'), 'stop', { qos: 1 });
    await master.publish(topics.broadcast(), 'hello all', { qos: 1 });
    await aBroadcast.text('hello all');
    t.deepEqual(aControl.texts(), ['stop']);
    t.deepEqual(aBroadcast.texts(), ['hello all']);
    t.true(b.connected && x.connected && a.connected); // nobody was disconnected for trying
  });
}

runAclSuite('aedes', async () => {
  const b = await startEmbeddedBroker({ port: 0, enforceTopicAcl: true, log: silentLog });
  return { url: b.url, stop: () => b.close() };
}, true);

// Mosquitto 2.0 grants any subscription and filters by the read ACL at delivery.
runAclSuite('mosquitto', () => startMosquitto({ acl: mosquittoAclFor({ identity: 'clientid' }) }), false);
// The deployment form (%u): every client's username is its id, as with use_identity_as_username.
runAclSuite('mosquitto (username = identity)', () => startMosquitto({ acl: mosquittoAclFor() }), false, true);
