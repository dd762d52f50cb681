import test from 'ava';
import { statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pino } from 'pino';
import { ErrorCodes, connectMqttTransport, type Logger } from '@tributary/shared';
import { certificateInfo, credentialsFor, identityDir, renew, resolveNodeConnection } from '@tributary/shared/identity';
import { api, startMaster, startNode, waitForNodesOnline, type RunningMaster } from './helpers/cluster.js';
import { tributary } from './helpers/cli.js';
import { tempDir } from './helpers/tmp.js';

/**
 * Enrolment end to end with the real master (`tributary master` refusing anonymous MQTT): nodes
 * started by the test helpers enrol themselves (POST /devices, then --master <http> --token), come
 * online over TLS with their client certificates, restart on their identity, renew with the
 * master's CA, and exit non-zero when revoked.
 */

const silent = pino({ level: 'silent' }) as unknown as Logger;

async function authMaster(t: { teardown: (fn: () => Promise<void>) => void }): Promise<{ m: RunningMaster; data: string }> {
  const dir = await tempDir();
  const m = await startMaster(join(dir.path, 'master'), ['--allow-anonymous-mqtt', 'off']);
  t.teardown(async () => {
    await m.proc.stop();
    await dir.cleanup();
  });
  return { m, data: dir.path };
}

test.serial('nodes of a master that enforces authentication enrol, come online by TLS, restart on their identity; a revoked agent exits 1', async (t) => {
  const { m, data } = await authMaster(t);
  // The agent as on a remote device (--broker-tls always); the worker as on the master's host.
  const [agent, worker] = await Promise.all([
    startNode('agent', 'dev-1', m.brokerUrl, data, {}, ['--broker-tls', 'always']),
    startNode('worker', 'w-1', m.brokerUrl, data),
  ]);
  t.teardown(async () => { await Promise.all([agent.stop('SIGKILL'), worker.stop('SIGKILL')]); });
  await waitForNodesOnline(m.httpUrl, ['dev-1', 'w-1']);
  const broker = String((await agent.waitFor((l) => l.msg === 'agent started', 'started')).broker);
  const id = identityDir(join(data, 'dev-1'));
  // The brokers enrolment named: the TLS listener, and the plain one on loopback.
  const { brokers } = JSON.parse(await readFile(join(id, 'enrolment.json'), 'utf8')) as { brokers: { tls?: string; plain?: string } };
  t.is(broker, brokers.tls!);
  t.regex(broker, /^mqtts:\/\//, 'the master has a TLS listener: the agent uses it, with its client certificate');
  const workerBroker = String((await worker.waitFor((l) => l.msg === 'worker started', 'started')).broker);
  t.is(workerBroker, brokers.plain!, 'on the master\'s host (loopback master URL): the plain loopback listener, with id + secret');
  t.regex(workerBroker, /^mqtt:\/\/127\.0\.0\.1:\d+$/);
  t.is(statSync(join(id, 'key.pem')).mode & 0o777, 0o600);
  t.is(certificateInfo(await readFile(join(id, 'cert.pem'), 'utf8')).subject.includes('CN=dev-1'), true);
  t.is(JSON.parse(await readFile(join(identityDir(join(data, 'w-1')), 'enrolment.json'), 'utf8')).role, 'worker');
  const devices = (await api(m.httpUrl, '/devices')).body as { id: string; role: string; state: string }[];
  t.like(devices.find((d) => d.id === 'dev-1'), { role: 'agent', state: 'enrolled' });
  t.like(devices.find((d) => d.id === 'w-1'), { role: 'worker', state: 'enrolled' });

  // A restart uses the stored identity: no new device, no token.
  await agent.stop();
  const again = await startNode('agent', 'dev-1', m.brokerUrl, data);
  t.teardown(async () => { await again.stop('SIGKILL'); });
  t.falsy(again.lines.find((l) => l.event === 'enrolled'));
  await waitForNodesOnline(m.httpUrl, ['dev-1']);

  // Revoked while connected: cut off, reconnects refused, and the agent exits non-zero.
  t.is((await api(m.httpUrl, '/devices/dev-1', { method: 'DELETE' })).status, 200);
  t.is(await again.exited, 1);
  t.truthy(again.lines.find((l) => l.event === 'identity-refused'));

  // Without an identity, on the plain listener: refused, with the code.
  const anon = await tributary(['agent', '--id', 'anon', '--master', m.brokerUrl, '--data', join(data, 'anon')], { TRIBUTARY_LOG_LEVEL: 'silent' });
  t.is(anon.code, 1);
  t.regex(anon.stderr, /error \[TRIB_ERR_BROKER_REFUSED\]/);
});

test.serial("renewal with the real master: the proof is accepted, the new certificate connects, the old token stays used", async (t) => {
  const { m, data } = await authMaster(t);
  const added = await api(m.httpUrl, '/devices', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ id: 'dev-r', role: 'agent' }) });
  t.is(added.status, 201);
  const dir = join(data, 'dev-r');
  const conn = await resolveNodeConnection({ id: 'dev-r', role: 'agent', master: m.httpUrl, token: added.body.token, dataDir: dir, log: silent, brokerTls: 'always' });
  t.is(conn.brokerUrl, conn.identity!.enrolment.brokers.tls!);
  const renewed = await renew(conn.identity!, dir, silent);
  t.not(renewed.cert, conn.identity!.cert);
  t.is(renewed.enrolment.role, 'agent');
  const transport = await connectMqttTransport({ url: conn.brokerUrl, clientId: 'dev-r', ...credentialsFor(renewed, conn.brokerUrl), connectTimeoutMs: 5000 });
  t.true(transport.connected);
  await transport.close();
  const other = await tempDir();
  t.teardown(other.cleanup);
  await t.throwsAsync(resolveNodeConnection({ id: 'dev-r', role: 'agent', master: m.httpUrl, token: added.body.token, dataDir: other.path, log: silent }), { code: ErrorCodes.ENROLMENT_REFUSED, message: /already used/ });
});
