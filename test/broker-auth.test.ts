/**
 * Broker authentication and the topic ACL bound to it (issue 13, /work/security-spec.md
 * "Broker"): real aedes, real mqtt.js clients, real TLS on loopback with a throwaway CA. Every
 * refusal must be answered (CONNACK code, SUBACK 0x80, a dropped publish or a closed TLS
 * connection), logged with who and what, and counted in `stats().refused`.
 */
import { randomBytes, X509Certificate } from 'node:crypto';
import test from 'ava';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { pino } from 'pino';
import { ErrorCodes, matchesFilter, topics, type Logger } from '@tributary/shared';
import {
  certificateCommonName, hashSecret, startEmbeddedBroker, staticAuthenticator, type EmbeddedBroker, type RefusalReason, type Role,
} from '../cloud-core/src/broker/index.js';
import { isLoopbackHost } from '@tributary/shared/identity';
import { brokerAuthenticatorConformance } from './helpers/broker-auth-conformance.js';
import { createTestCa, type TestCa, type TestCert } from './helpers/test-pki.js';

interface Pki {
  ca: TestCa;
  server: TestCert;
  /** Client certificates of the fabric CA by CN. */
  certs: Record<'dev-1' | 'dev-2' | 'dev-1.x' | 'master' | 'stranger', TestCert>;
  /** dev-1's certificate, issued by another CA. */
  foreign: TestCert;
}
let pki: Pki;

test.before(async () => {
  const ca = await createTestCa();
  const other = await createTestCa('Another CA');
  pki = {
    ca,
    server: await ca.server(),
    certs: {
      'dev-1': await ca.client('dev-1', { ou: 'agent' }),
      'dev-2': await ca.client('dev-2', { ou: 'agent' }),
      'dev-1.x': await ca.client('dev-1.x', { ou: 'agent' }),
      master: await ca.client('master', { ou: 'master' }),
      stranger: await ca.client('stranger', { ou: 'agent' }),
    },
    foreign: await other.client('dev-1', { ou: 'agent' }),
  };
});

brokerAuthenticatorConformance(test, 'staticAuthenticator', async () => {
  const certs = new Map<string, Role>();
  const secrets = new Map<string, { role: Role; secretHash: string }>();
  const auth = staticAuthenticator({ certs, secrets });
  return {
    auth,
    async add(id, role) {
      const secret = randomBytes(32).toString('base64url');
      certs.set(id, role);
      secrets.set(id, { role, secretHash: hashSecret(secret) });
      return { cert: (await pki.ca.client(id, { ou: role })).cert, secret };
    },
    revoke: (id) => auth.revoke(id),
    unknownCert: async (id) => (await pki.ca.client(id, { ou: 'agent' })).cert,
  };
});

const SECRETS = { 'dev-3': 's3cret-of-dev-3', master: 'secret-of-a-device-wrongly-named-master' };

/** Log lines as parsed objects; `waitFor` resolves with a past or future line matching. */
function captureLog() {
  const lines: Array<Record<string, unknown>> = [];
  const waiters = new Set<{ match: (l: Record<string, unknown>) => boolean; resolve: (l: Record<string, unknown>) => void }>();
  const log = pino({ level: 'info' }, {
    write(s: string) {
      const line = JSON.parse(s) as Record<string, unknown>;
      lines.push(line);
      for (const w of waiters) if (w.match(line)) (waiters.delete(w), w.resolve(line));
    },
  }) as unknown as Logger;
  const waitFor = (match: (l: Record<string, unknown>) => boolean): Promise<Record<string, unknown>> => {
    const seen = lines.find(match);
    return seen ? Promise.resolve(seen) : new Promise((resolve) => waiters.add({ match, resolve }));
  };
  return { log, lines, waitFor };
}

type Outcome = 'connected' | 'closed' | number | string;

interface Harness {
  broker: EmbeddedBroker;
  auth: ReturnType<typeof staticAuthenticator>;
  logs: ReturnType<typeof captureLog>;
  /** Connects; resolves with the client and how the attempt ended (CONNACK refusal: its code). */
  attempt(o: IClientOptions & { tls?: boolean }): Promise<{ outcome: Outcome; client: MqttClient }>;
  /** Connects over TLS with the fabric certificate of `cn`; fails the test unless accepted. */
  device(cn: keyof Pki['certs'], clientId?: string, o?: IClientOptions): Promise<MqttClient>;
  refused(): Record<RefusalReason, number>;
}

async function harness(t: { teardown(f: () => unknown): void }): Promise<Harness> {
  const logs = captureLog();
  const auth = staticAuthenticator({
    certs: new Map<string, Role>([['dev-1', 'agent'], ['dev-2', 'agent'], ['dev-1.x', 'agent'], ['master', 'master']]),
    secrets: new Map([
      ['dev-3', { role: 'worker' as const, secretHash: hashSecret(SECRETS['dev-3']) }],
      ['master', { role: 'worker' as const, secretHash: hashSecret(SECRETS.master) }],
    ]),
    appTopics: new Map([['dev-1', { write: ['plant/windows'], read: ['plant/#'] }]]),
  });
  const broker = await startEmbeddedBroker({
    port: 0, log: logs.log, auth, tls: { port: 0, key: pki.server.key, cert: pki.server.cert, ca: pki.ca.cert },
  });
  const clients: MqttClient[] = [];
  t.teardown(async () => {
    await Promise.all(clients.map((c) => c.endAsync(true).catch(() => {})));
    await broker.close();
  });
  const attempt: Harness['attempt'] = ({ tls, ...o }) => {
    const client = mqtt.connect(tls ? broker.tlsUrl! : broker.url, { protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 10_000, ca: pki.ca.cert, ...o });
    clients.push(client);
    return new Promise((resolve) => {
      client.once('connect', () => resolve({ outcome: 'connected', client }));
      client.once('error', (err: Error & { code?: number | string }) => resolve({ outcome: err.code ?? err.message, client }));
      client.once('close', () => resolve({ outcome: 'closed', client }));
    });
  };
  const device: Harness['device'] = async (cn, clientId = cn, o = {}) => {
    const { outcome, client } = await attempt({ tls: true, clientId, key: pki.certs[cn].key, cert: pki.certs[cn].cert, ...o });
    if (outcome !== 'connected') throw new Error(`${clientId} (${cn}) was refused: ${String(outcome)}`);
    return client;
  };
  return { broker, auth, logs, attempt, device, refused: () => broker.stats().refused };
}

/** Messages a client receives on `filter`; `text` awaits one with that payload. */
function collect(client: MqttClient, filter: string) {
  const messages: Array<{ topic: string; text: string; retain: boolean }> = [];
  const waiters = new Set<{ text: string; resolve: () => void }>();
  client.on('message', (topic, payload, packet) => {
    if (!matchesFilter(filter, topic)) return;
    const text = payload.toString();
    messages.push({ topic, text, retain: packet.retain });
    for (const w of waiters) if (w.text === text) (waiters.delete(w), w.resolve());
  });
  const text = (s: string): Promise<void> => (messages.some((m) => m.text === s) ? Promise.resolve() : new Promise((resolve) => waiters.add({ text: s, resolve })));
  return { messages, text, texts: () => messages.map((m) => m.text) };
}

/** SUBSCRIBE; the granted QoS per filter (128 = refused; mqtt.js rejects when every one is). */
async function granted(client: MqttClient, filters: string | string[]): Promise<number[]> {
  try {
    return (await client.subscribeAsync(filters, { qos: 1 })).map((g) => g.qos);
  } catch (err) {
    const packet = (err as { packet?: { granted?: number[] } }).packet;
    if (!packet?.granted) throw err;
    return packet.granted;
  }
}

const refusedWith = (msg: RegExp, fields: Record<string, unknown>) => (l: Record<string, unknown>) =>
  msg.test(String(l.msg)) && Object.entries(fields).every(([k, v]) => l[k] === v);

test('anonymous clients are refused on both listeners (CONNACK 5), logged and counted', async (t) => {
  const h = await harness(t);
  t.is((await h.attempt({ clientId: 'dev-3' })).outcome, 5);
  t.is((await h.attempt({ tls: true, clientId: 'dev-3' })).outcome, 5);
  t.is(h.refused().auth, 2);
  t.is(h.broker.stats().clients, 0);
  const line = await h.logs.waitFor(refusedWith(/authentication/, { reason: 'auth', clientId: 'dev-3' }));
  t.regex(String(line.why), /anonymous/);
});

test('a wrong or unknown password is refused (CONNACK 4); the right one connects, over plain TCP and TLS', async (t) => {
  const h = await harness(t);
  t.is((await h.attempt({ clientId: 'dev-3', username: 'dev-3', password: 'wrong' })).outcome, 4);
  t.is((await h.attempt({ clientId: 'nobody', username: 'nobody', password: SECRETS['dev-3'] })).outcome, 4);
  t.is(h.refused().auth, 2);
  await h.logs.waitFor(refusedWith(/authentication/, { reason: 'auth', identity: 'dev-3', why: 'bad username or password' }));
  t.is((await h.attempt({ clientId: 'dev-3', username: 'dev-3', password: SECRETS['dev-3'] })).outcome, 'connected');
  t.is((await h.attempt({ tls: true, clientId: 'dev-3.sink.1', username: 'dev-3', password: SECRETS['dev-3'] })).outcome, 'connected');
  t.is(h.broker.stats().clients, 2);
  t.is(h.refused().auth, 2);
});

test('a client certificate from another CA, or an expired one, is refused in TLS, logged and counted', async (t) => {
  const h = await harness(t);
  const { outcome } = await h.attempt({ tls: true, clientId: 'dev-1', key: pki.foreign.key, cert: pki.foreign.cert });
  t.not(outcome, 'connected');
  const line = await h.logs.waitFor(refusedWith(/TLS connection refused/, { reason: 'tls' }));
  t.is(line.subject, 'dev-1');
  t.regex(String(line.error), /UNABLE_TO_GET_ISSUER_CERT|UNABLE_TO_VERIFY|SELF_SIGNED|CERT/);
  t.is(h.refused().tls, 1);
  // An expired certificate of the fabric CA is refused the same way.
  const expired = await pki.ca.client('dev-1', { notBefore: new Date(Date.now() - 3 * 86_400_000), notAfter: new Date(Date.now() - 86_400_000) });
  t.not((await h.attempt({ tls: true, clientId: 'dev-1', key: expired.key, cert: expired.cert })).outcome, 'connected');
  await h.logs.waitFor(refusedWith(/TLS connection refused/, { reason: 'tls', error: 'CERT_HAS_EXPIRED' }));
  t.is(h.refused().tls, 2);
  t.is(h.refused().auth, 0, 'it never got as far as MQTT');
  t.is(h.broker.stats().clients, 0);
});

test('a valid certificate connects as its CN, and as <CN>.<anything> for connector clients; a CN the authenticator does not know is refused', async (t) => {
  const h = await harness(t);
  await h.device('dev-1');
  await h.device('dev-1', 'dev-1.sink.3');
  t.is(h.broker.stats().clients, 2);
  t.is((await h.attempt({ tls: true, clientId: 'stranger', key: pki.certs.stranger.key, cert: pki.certs.stranger.cert })).outcome, 5);
  t.is(h.refused().auth, 1);
  t.is(h.refused().tls, 0);
  // certificateCommonName is what the static authenticator maps.
  t.is(certificateCommonName(new X509Certificate(pki.certs['dev-1'].cert)), 'dev-1');
});

test('a client id that is not the identity (or <identity>.…) is refused (CONNACK 5)', async (t) => {
  const h = await harness(t);
  const cert = { key: pki.certs['dev-1'].key, cert: pki.certs['dev-1'].cert };
  for (const clientId of ['dev-2', 'dev-10', 'x.dev-1']) {
    t.is((await h.attempt({ tls: true, clientId, ...cert })).outcome, 5, clientId);
  }
  t.is((await h.attempt({ clientId: 'dev-1', username: 'dev-3', password: SECRETS['dev-3'] })).outcome, 5);
  t.is(h.refused().auth, 4);
  await h.logs.waitFor(refusedWith(/authentication/, { reason: 'auth', clientId: 'dev-10', identity: 'dev-1' }));
  t.is(h.broker.stats().clients, 0);
  // Ids may contain dots: dev-1 may not take over the session of a connected node dev-1.x.
  const other = await h.device('dev-1.x');
  t.is((await h.attempt({ tls: true, clientId: 'dev-1.x', ...cert })).outcome, 5);
  await h.logs.waitFor(refusedWith(/authentication/, { reason: 'auth', identity: 'dev-1', why: 'client id in use by another identity' }));
  t.true(other.connected);
  t.is(h.refused().auth, 5);
});

test("nobody but role master is `master`: a device's client id `master` and a worker named master are refused", async (t) => {
  const h = await harness(t);
  t.is((await h.attempt({ tls: true, clientId: 'master', key: pki.certs['dev-1'].key, cert: pki.certs['dev-1'].cert })).outcome, 5);
  t.is((await h.attempt({ clientId: 'master', username: 'master', password: SECRETS.master })).outcome, 5);
  const line = await h.logs.waitFor(refusedWith(/authentication/, { reason: 'auth', identity: 'master' }));
  t.regex(String(line.why), /claimed by role worker/);
  t.is(h.refused().auth, 2);
  // The real master (role master) connects, also under a standby client id.
  await h.device('master');
  await h.device('master', 'master.standby');
  t.is(h.broker.stats().clients, 2);
});

test("a device publishing into another device's data, credit and checkpoint topics is acknowledged, dropped, logged and counted; the receivers get nothing", async (t) => {
  const h = await harness(t);
  const master = await h.device('master');
  const [dev1, dev2] = [await h.device('dev-1'), await h.device('dev-2')];
  await master.subscribeAsync(topics.masterSubscriptions(), { qos: 1 });
  await dev2.subscribeAsync(topics.nodeSubscriptions('dev-2'), { qos: 1 });
  const ckpt = collect(master, topics.nodeKindFilter('checkpoint'));
  const data = collect(dev2, topics.dataFilterFor('dev-2'));
  const credit = collect(dev2, topics.creditFilterFor('dev-2'));

  // dev-1 forges frames as if sent by dev-3 (to dev-2) and a checkpoint report of dev-3.
  await dev1.publishAsync(topics.data('dev-3', 'dev-2', 'app', 't'), 'forged data', { qos: 1 });
  await dev1.publishAsync(topics.credit('dev-3', 'dev-2', 'app', 't'), 'forged credit', { qos: 1 });
  await dev1.publishAsync(topics.checkpoint('dev-3'), 'forged ckpt', { qos: 1 });
  // Then its own, allowed messages on the same paths: they arrive, and alone.
  await dev1.publishAsync(topics.data('dev-1', 'dev-2', 'app', 't'), 'own data', { qos: 1 });
  await dev1.publishAsync(topics.credit('dev-1', 'dev-2', 'app', 't'), 'own credit', { qos: 1 });
  await dev1.publishAsync(topics.checkpoint('dev-1'), 'own ckpt', { qos: 1 });
  await Promise.all([data.text('own data'), credit.text('own credit'), ckpt.text('own ckpt')]);
  t.deepEqual(data.texts(), ['own data']);
  t.deepEqual(credit.texts(), ['own credit']);
  t.deepEqual(ckpt.texts(), ['own ckpt']);
  t.is(h.refused().acl_publish, 3);
  for (const topic of [topics.data('dev-3', 'dev-2', 'app', 't'), topics.credit('dev-3', 'dev-2', 'app', 't'), topics.checkpoint('dev-3')]) {
    await h.logs.waitFor(refusedWith(/publish denied/, { reason: 'acl_publish', clientId: 'dev-1', identity: 'dev-1', topic }));
  }
  t.true(dev1.connected, 'a denied publish is no reason to disconnect');
});

test("a device subscribing to another's control topic (or to everything) gets SUBACK 0x80 and nothing else", async (t) => {
  const h = await harness(t);
  const master = await h.device('master');
  const dev1 = await h.device('dev-1');
  const denied = [topics.control('dev-2'), 'trib/#', '#', topics.dataFilterFor('dev-2')];
  t.deepEqual(await granted(dev1, denied), denied.map(() => 128));
  t.is(h.refused().acl_subscribe, denied.length);
  await h.logs.waitFor(refusedWith(/subscription denied/, { reason: 'acl_subscribe', clientId: 'dev-1', identity: 'dev-1', filter: topics.control('dev-2') }));
  // Its own control topic is granted; the master's message to dev-2 never reaches it.
  t.deepEqual(await granted(dev1, topics.control('dev-1')), [1]);
  const all = collect(dev1, '#');
  await master.publishAsync(topics.control('dev-2'), 'for dev-2', { qos: 1 });
  await master.publishAsync(topics.control('dev-1'), 'for dev-1', { qos: 1 });
  await all.text('for dev-1');
  t.deepEqual(all.texts(), ['for dev-1']);
});

test('a forged retained desired state (a node publishing on trib/master/ctl/<x>) is dropped, never retained', async (t) => {
  const h = await harness(t);
  const master = await h.device('master');
  const dev1 = await h.device('dev-1');
  await master.publishAsync(topics.control('dev-2'), 'genuine', { qos: 1, retain: true });
  await dev1.publishAsync(topics.control('dev-2'), 'forged', { qos: 1, retain: true });
  await dev1.publishAsync(topics.broadcast(), 'forged broadcast', { qos: 1, retain: true });
  t.is(h.refused().acl_publish, 2);
  await h.logs.waitFor(refusedWith(/publish denied/, { reason: 'acl_publish', identity: 'dev-1', topic: topics.control('dev-2'), retain: true }));
  // dev-2 comes online: the one retained desired state it gets is the master's.
  const dev2 = await h.device('dev-2');
  const ctl = collect(dev2, topics.control('dev-2'));
  await dev2.subscribeAsync(topics.control('dev-2'), { qos: 1 });
  await ctl.text('genuine');
  t.deepEqual(ctl.messages.map((m) => [m.text, m.retain]), [['genuine', true]]);
});

test('application topics follow the grants of mayUseAppTopic; fabric topics are never granted by them', async (t) => {
  const h = await harness(t);
  const dev1 = await h.device('dev-1');
  const dev1Source = await h.device('dev-1', 'dev-1.source.0');
  const dev2 = await h.device('dev-2');
  t.deepEqual(await granted(dev1Source, 'plant/#'), [1]);
  t.deepEqual(await granted(dev2, ['plant/#', '+/windows']), [128, 128]);
  const got = collect(dev1Source, 'plant/#');
  await dev2.publishAsync('plant/windows', 'from dev-2', { qos: 1 });
  await dev1.publishAsync('plant/other', 'not granted', { qos: 1 });
  await dev1.publishAsync('plant/windows', 'from dev-1', { qos: 1 });
  await got.text('from dev-1');
  t.deepEqual(got.texts(), ['from dev-1']);
  t.is(h.refused().acl_publish, 2);
  t.is(h.refused().acl_subscribe, 2);
});

test('disconnectIdentity cuts a device and its connector clients at once; once revoked its reconnects are refused', async (t) => {
  const h = await harness(t);
  const master = await h.device('master');
  await master.subscribeAsync(topics.nodeKindFilter('status'), { qos: 1 });
  const status = collect(master, topics.nodeKindFilter('status'));
  const will = { topic: topics.status('dev-1'), payload: Buffer.from('offline'), qos: 1 as const, retain: true };
  const dev1 = await h.device('dev-1', 'dev-1', { will });
  const dev1Sink = await h.device('dev-1', 'dev-1.sink.3');
  const dev2 = await h.device('dev-2');
  const closed = Promise.all([dev1, dev1Sink].map((c) => new Promise<void>((resolve) => c.once('close', () => resolve()))));
  const gone = new Set<string>();
  const bothGone = new Promise<void>((resolve) => h.broker.on('clientDisconnect', (id) => (gone.add(id), gone.has('dev-1') && gone.has('dev-1.sink.3') && resolve())));
  h.auth.revoke('dev-1');
  t.is(h.broker.disconnectIdentity('dev-1'), 2);
  await Promise.all([closed, bothGone]);
  await status.text('offline'); // its will fired, as for a dropped link
  t.true(dev2.connected, 'other devices keep their connection');
  t.is(h.broker.stats().clients, 2);
  const before = h.refused().auth;
  t.is((await h.attempt({ tls: true, clientId: 'dev-1', key: pki.certs['dev-1'].key, cert: pki.certs['dev-1'].cert })).outcome, 5);
  t.is(h.refused().auth, before + 1);
  await h.logs.waitFor(refusedWith(/authentication/, { reason: 'auth', identity: 'CN=dev-1,OU=agent', why: 'certificate identity unknown or revoked' }));
  // A password identity the same way.
  const dev3 = await h.attempt({ clientId: 'dev-3', username: 'dev-3', password: SECRETS['dev-3'] });
  t.is(dev3.outcome, 'connected');
  const dev3Closed = new Promise<void>((resolve) => dev3.client.once('close', () => resolve()));
  h.auth.revoke('dev-3');
  t.is(h.broker.disconnectIdentity('dev-3'), 1);
  await dev3Closed;
  t.is((await h.attempt({ clientId: 'dev-3', username: 'dev-3', password: SECRETS['dev-3'] })).outcome, 4);
  t.is(h.broker.disconnectIdentity('nobody'), 0);
});

test('the plain listener binds loopback only unless allowed (ConfigError); without auth the broker stays anonymous', async (t) => {
  await t.throwsAsync(startEmbeddedBroker({ host: '0.0.0.0', port: 0 }), { code: ErrorCodes.CONFIG_INVALID, message: /loopback/ });
  await t.throwsAsync(startEmbeddedBroker({ host: '192.0.2.1', port: 0 }), { code: ErrorCodes.CONFIG_INVALID });
  for (const host of ['127.0.0.1', '127.1.2.3', 'localhost', '::1', '[::1]']) t.true(isLoopbackHost(host), host);
  for (const host of ['0.0.0.0', '::', '10.0.0.1', 'example.com']) t.false(isLoopbackHost(host), host);
  const { log } = captureLog();
  const broker = await startEmbeddedBroker({ port: 0, log });
  t.teardown(() => broker.close());
  const client = await mqtt.connectAsync(broker.url, { clientId: 'anyone', reconnectPeriod: 0 });
  t.teardown(() => client.endAsync(true));
  t.true(client.connected);
});
