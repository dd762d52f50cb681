/**
 * Issue 13's "done when", in one run: a plant-monitor cluster with authentication on (every node
 * enrolled, TLS, the broker's ACL) processes a bounded input while hostile clients try everything
 * the issue lists against the same broker and master. Each attempt must be refused with a log line
 * and a counter, nothing of it accepted, and the application's results must still be exactly those
 * of a failure-free run.
 */
import test from 'ava';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { ErrorCodes, encodeFrame, taskAddress, topics } from '@tributary/shared';
import { enrol } from '@tributary/shared/identity';
import { mqttLogin } from '../cli/src/launcher.js';
import { api, until } from './helpers/cluster.js';
import { compareWithReference, plantApp, plantCluster, submitPlantMonitor, untilFinished } from './helpers/plant-cluster.js';
import { parsePromText } from './helpers/prom-text.js';
import { createTestCa } from './helpers/test-pki.js';
import { tempDir } from './helpers/tmp.js';

const params = (output: string): Record<string, string> => ({ count: '3000', startTs: '0', intervalMs: '10', windowMs: '1000', seed: '11', paced: 'true', speed: '2', output });

/** Connects once (no reconnect): the client, or the reason it was refused (CONNACK code, or the connection closed). */
function tryConnect(url: string, o: IClientOptions): Promise<{ client: MqttClient } | { refused: string }> {
  return new Promise((resolve) => {
    const c = mqtt.connect(url, { protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 10_000, ...o });
    c.once('connect', () => resolve({ client: c }));
    c.once('error', (err: Error & { code?: number | string }) => {
      c.end(true);
      resolve({ refused: `error ${String(err.code ?? err.message)}` });
    });
    c.once('close', () => {
      c.end(true);
      resolve({ refused: 'closed' });
    });
  });
}

async function refusals(httpUrl: string): Promise<Record<string, number>> {
  const { samples } = parsePromText(await (await fetch(new URL('/metrics', httpUrl))).text());
  const out: Record<string, number> = {};
  for (const s of samples) {
    if (s.name === 'tributary_broker_refused_total') out[`broker.${s.labels.reason}`] = s.value;
    if (s.name === 'tributary_enrolment_refused_total') out[`enrolment.${s.labels.reason}`] = s.value;
  }
  return out;
}

test('hostile clients against a running cluster: every attempt refused, logged and counted; the results stay exact', async (t) => {
  // Limits low enough for an attacker to meet, far above what plant-monitor sends.
  const c = await plantCluster(t, ['--broker-max-packet-kb', '1024', '--broker-max-publish-rate', '5000']);
  const { httpUrl, brokerUrl } = c.master;
  const tlsUrl = c.master.brokerTlsUrl!;
  t.truthy(tlsUrl, 'the master listens with MQTT over TLS');
  const p = params(join(c.dir, 'windows.jsonl'));
  await submitPlantMonitor(c, p);
  const running = await until('plant-monitor placed', async () => {
    const a = await plantApp(c);
    return a.state === 'running' && a.tasks.length > 0 ? a : undefined;
  });
  const before = await refusals(httpUrl);
  const grew = (after: Record<string, number>, key: string) => (after[key] ?? 0) > (before[key] ?? 0);

  // 1. An anonymous client: refused (CONNACK 5, not authorized).
  const anonymous = await tryConnect(brokerUrl, { clientId: 'anon' });
  t.true('refused' in anonymous, 'anonymous refused');

  // 2. A client certificate from another CA, on the TLS listener: refused in the handshake.
  const foreign = await createTestCa('Not the fabric CA');
  const foreignCert = await foreign.client('dev-1', { ou: 'agent' });
  const foreignCa = await tryConnect(tlsUrl, { clientId: 'dev-1', key: foreignCert.key, cert: foreignCert.cert, ca: await readFile(join(c.dir, 'master', 'pki', 'ca.crt'), 'utf8') });
  t.true('refused' in foreignCa, 'a certificate of another CA refused');

  // 3. Enrolment tokens: unknown, reused and expired ones are refused with their reason.
  const add = async (id: string, ttlSeconds?: number) =>
    (await api(httpUrl, '/devices', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ id, role: 'agent', ...(ttlSeconds ? { ttlSeconds } : {}) }) })).body.token as string;
  const dirs = await tempDir();
  t.teardown(dirs.cleanup);
  const token = await add('spare-1');
  await enrol({ masterUrl: httpUrl, id: 'spare-1', token, role: 'agent', dataDir: join(dirs.path, 'a') });
  const reused = await t.throwsAsync(enrol({ masterUrl: httpUrl, id: 'spare-1', token, role: 'agent', dataDir: join(dirs.path, 'b') }));
  t.is((reused as { code?: string }).code, ErrorCodes.ENROLMENT_REFUSED, 'a reused token');
  const unknown = await t.throwsAsync(enrol({ masterUrl: httpUrl, id: 'spare-2', token: 'f'.repeat(64), role: 'agent', dataDir: join(dirs.path, 'c') }));
  t.is((unknown as { code?: string }).code, ErrorCodes.ENROLMENT_REFUSED, 'an unknown token');
  const shortLived = await add('spare-3', 1);
  // No clock can be injected into the master's process: wait until it calls the token expired.
  await until('spare-3 expired', async () => ((await api(httpUrl, '/devices')).body.find((d: { id: string; state: string }) => d.id === 'spare-3')?.state === 'expired' ? true : undefined), 100, 100);
  const expired = await t.throwsAsync(enrol({ masterUrl: httpUrl, id: 'spare-3', token: shortLived, role: 'agent', dataDir: join(dirs.path, 'd') }));
  t.is((expired as { code?: string }).code, ErrorCodes.ENROLMENT_REFUSED, 'an expired token');

  // 4. A legitimately enrolled device turned hostile.
  const evil = await mqttLogin(brokerUrl, 'evil', 'agent');
  const claimMaster = await tryConnect(brokerUrl, { clientId: 'master', ...evil });
  t.true('refused' in claimMaster, "claiming the master's identity");
  const claimOther = await tryConnect(brokerUrl, { clientId: 'dev-1', ...evil });
  t.true('refused' in claimOther, "claiming another device's client id");
  const connected = await tryConnect(brokerUrl, { clientId: 'evil', ...evil });
  if (!('client' in connected)) return t.fail(`evil could not connect: ${connected.refused}`);
  const e = connected.client;
  t.teardown(() => e.end(true));
  const window = running.tasks.find((x: { processor: number }) => x.processor === 1) as { node: string; processor: number; index: number };
  const sensor = running.tasks.find((x: { processor: number; node: string }) => x.processor === 0 && x.node === 'dev-1') as { processor: number; index: number };
  const windowAddr = String(taskAddress(window.processor, window.index));
  const frame = (epoch: number) => Buffer.from(encodeFrame({
    app: 'plant-monitor', epoch, sender: taskAddress(sensor.processor, sensor.index), firstSeq: 0, clock: 0,
    messages: [{ ts: 1, value: { ts: 1, device: 'dev-1', sensor: 'temperature', value: 1e9 } }],
  }));
  // Into another device's data, credit and checkpoint topics: denied by the ACL (acknowledged, dropped).
  await e.publishAsync(topics.data('dev-1', window.node, 'plant-monitor', windowAddr), frame(running.epoch), { qos: 1 });
  await e.publishAsync(topics.credit('dev-1', window.node, 'plant-monitor', windowAddr), Buffer.from([0x80]), { qos: 1 });
  await e.publishAsync(topics.checkpoint('dev-1'), Buffer.from([0xa0]), { qos: 1 });
  // A forged retained desired state: denied, never retained.
  await e.publishAsync(topics.control('dev-1'), Buffer.from([0xa0]), { qos: 1, retain: true });
  // Another device's control topic: SUBACK 0x80.
  const subErr = await t.throwsAsync(e.subscribeAsync(topics.control('dev-1'), { qos: 1 }));
  t.deepEqual((subErr as Error & { packet?: { granted?: number[] } }).packet?.granted, [128], "subscribing to another device's control topic is refused");
  // Under its own prefix, a frame speaking for dev-1's task: rejected by the receiving node; and
  // a replayed frame of an old epoch: fenced.
  const wireBefore = (await plantApp(c)).nodes[window.node].wire;
  await e.publishAsync(topics.data('evil', window.node, 'plant-monitor', windowAddr), frame(running.epoch), { qos: 1 });
  await e.publishAsync(topics.data('evil', window.node, 'plant-monitor', windowAddr), frame(running.epoch - 1), { qos: 1 });
  await until('the forged frame rejected and the old-epoch frame fenced', async () => {
    const w = (await plantApp(c)).nodes[window.node]?.wire;
    return w && (w.framesRejected ?? 0) > (wireBefore.framesRejected ?? 0) && (w.framesFenced ?? 0) > (wireBefore.framesFenced ?? 0) ? true : undefined;
  });
  // A publish flood on its own prefix: over the rate, dropped (the device stays connected).
  for (let i = 0; i < 12_000; i++) e.publish('trib/evil/flood', 'x', { qos: 0 });
  await until('the flood counted', async () => (grew(await refusals(httpUrl), 'broker.publish_rate') ? true : undefined));
  // An oversize packet: the connection is closed.
  const closed = new Promise<void>((resolve) => e.once('close', () => resolve()));
  e.publish('trib/evil/big', Buffer.alloc(2 * 1024 * 1024), { qos: 0 });
  await closed;

  // 5. A device revoked while connected: cut off at once, its reconnect refused.
  const spy = await mqttLogin(brokerUrl, 'spy', 'agent');
  const spyConn = await tryConnect(brokerUrl, { clientId: 'spy', ...spy });
  if (!('client' in spyConn)) return t.fail(`spy could not connect: ${spyConn.refused}`);
  const cut = new Promise<void>((resolve) => spyConn.client.once('close', () => resolve()));
  t.is((await api(httpUrl, '/devices/spy', { method: 'DELETE' })).status, 200);
  await cut;
  const again = await tryConnect(brokerUrl, { clientId: 'spy', ...spy });
  t.true('refused' in again, 'a revoked device cannot reconnect');

  // Every refusal counted, by reason.
  const after = await until('every refusal counted', async () => {
    const now = await refusals(httpUrl);
    const keys = ['broker.auth', 'broker.tls', 'broker.acl_publish', 'broker.acl_subscribe', 'broker.publish_rate', 'broker.packet_size', 'enrolment.reused', 'enrolment.unknown', 'enrolment.expired'];
    return keys.every((k) => grew(now, k)) ? now : undefined;
  }, 100);
  t.true((after['broker.acl_publish'] ?? 0) - (before['broker.acl_publish'] ?? 0) >= 4, 'data, credit, checkpoint and control publishes denied');
  // …and logged: the master's log names the refusals.
  const masterLog = c.master.proc.lines;
  t.true(masterLog.some((l) => /publish denied/i.test(String(l.msg)) && l.clientId === 'evil'), 'a denied publish is logged with its client');
  t.true(masterLog.some((l) => /enrolment refused/i.test(String(l.msg))), 'a refused enrolment is logged');

  // Nothing of it reached the application: the results are exactly the failure-free ones.
  await untilFinished(c);
  await compareWithReference(t, p.output, p);
});
