/**
 * Enrolment against a real master process over real HTTP (/work/security-spec.md "Enrolment
 * flow"): devices add -> POST /enrol with a CSR -> a certificate that chains to <data>/pki/ca.crt
 * and carries id and role; reused, expired and unknown tokens refused with a reason, a log line and
 * a counter; renewal with a proof; revocation; the `tributary devices` commands.
 */
import test from 'ava';
import { X509Certificate, createPublicKey } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { principalOf } from '../cloud-core/src/pki/index.js';
import { api, startMaster, until, type RunningMaster } from './helpers/cluster.js';
import { tributary } from './helpers/cli.js';
import { newCsr, renewalProof } from './helpers/enrolment.js';
import { parsePromText } from './helpers/prom-text.js';
import { tempDir } from './helpers/tmp.js';

let master: RunningMaster;
let data: string;
let cleanup: () => Promise<void>;

test.before(async () => {
  const dir = await tempDir();
  data = join(dir.path, 'master');
  // As `tributary master` by default: the broker authenticates against the device registry.
  master = await startMaster(data, ['--allow-anonymous-mqtt', 'off']);
  cleanup = async () => {
    await master.proc.stop();
    await dir.cleanup();
  };
});
test.after.always(() => cleanup?.());

const post = (path: string, body: unknown) => api(master.httpUrl, path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

async function metric(name: string, labels: Record<string, string>): Promise<number | undefined> {
  const text = await (await fetch(new URL('/metrics', master.httpUrl))).text();
  return parsePromText(text).samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
}

test.serial('the master created its PKI at start: keys 0600, a TLS broker URL in "master started"', async (t) => {
  for (const f of ['ca.key', 'server.key', 'master.key', 'signing.key']) t.is((await stat(join(data, 'pki', f))).mode & 0o777, 0o600, f);
  for (const f of ['ca.crt', 'server.crt', 'master.crt', 'signing.pub']) t.true((await stat(join(data, 'pki', f))).isFile(), f);
  const started = master.proc.lines.find((l) => l.msg === 'master started')!;
  t.is(started.broker, master.brokerUrl);
  t.regex(String(started.brokerTls), /^mqtts:\/\/127\.0\.0\.1:\d+$/);
});

test.serial('add -> enrol with a CSR: a certificate chaining to ca.crt with id and role, the secret, the signing key; the token works once', async (t) => {
  const added = await post('/devices', { id: 'dev-1', role: 'worker', labels: { site: 'plant-1' } });
  t.is(added.status, 201);
  t.is(added.body.id, 'dev-1');
  t.regex(added.body.token, /^[0-9a-f]{64}$/);
  t.true(added.body.expiresAt > Date.now());

  // A CSR naming another id is refused, and does not use the token up.
  const wrong = await newCsr('dev-2');
  const refusedCsr = await post('/enrol', { id: 'dev-1', token: added.body.token, csr: wrong.csrPem });
  t.is(refusedCsr.status, 400);
  t.is(refusedCsr.body.code, 'TRIB_ERR_CERT_INVALID');

  const { keyPem, csrPem } = await newCsr('dev-1');
  const res = await post('/enrol', { id: 'dev-1', token: added.body.token, csr: csrPem });
  t.is(res.status, 200, JSON.stringify(res.body));
  const ca = new X509Certificate(await readFile(join(data, 'pki', 'ca.crt')));
  const cert = new X509Certificate(res.body.cert);
  t.true(cert.checkIssued(ca) && cert.verify(ca.publicKey), 'chains to ca.crt');
  t.deepEqual(principalOf(cert), { id: 'dev-1', role: 'worker' });
  t.is(cert.publicKey.export({ type: 'spki', format: 'pem' }), createPublicKey(keyPem).export({ type: 'spki', format: 'pem' }), 'certifies the CSR key');
  t.is(res.body.ca, await readFile(join(data, 'pki', 'ca.crt'), 'utf8'));
  t.true(res.body.cert.endsWith('-----END CERTIFICATE-----\n'));
  t.is(res.body.signingKey, await readFile(join(data, 'pki', 'signing.pub'), 'utf8'));
  t.regex(res.body.secret, /^[A-Za-z0-9_-]{43}$/);
  t.is(new Date(res.body.certNotAfter).getTime(), new Date(cert.validTo).getTime());
  t.is(res.body.brokers.plain, master.brokerUrl);
  // Default lifetime: 30 days.
  t.true(Math.abs(new Date(cert.validTo).getTime() - Date.now() - 30 * 86_400_000) < 3_600_000);

  const again = await post('/enrol', { id: 'dev-1', token: added.body.token, csr: (await newCsr('dev-1')).csrPem });
  t.is(again.status, 403);
  t.is(again.body.code, 'TRIB_ERR_ENROLMENT_REFUSED');
  t.is(again.body.reason, 'reused');
  t.is(await metric('tributary_enrolment_refused_total', { reason: 'reused' }), 1);
  await master.proc.waitFor((l) => l.msg === 'enrolment refused' && l.id === 'dev-1' && l.reason === 'reused', 'a log line naming device and reason');

  const list = await api(master.httpUrl, '/devices');
  const d = list.body.find((x: { id: string }) => x.id === 'dev-1');
  t.is(d.state, 'enrolled');
  t.deepEqual(d.labels, { site: 'plant-1' });
  t.false(JSON.stringify(list.body).includes(added.body.token.slice(0, 16)), 'the token is not shown again');
  t.false('tokenHash' in d || 'secretHash' in d);

  // Renewal: proof by the current key over the new CSR; a bad proof is refused.
  const next = await newCsr('dev-1');
  const badProof = await post('/enrol/renew', { id: 'dev-1', csr: next.csrPem, cert: res.body.cert, proof: renewalProof(wrong.keyPem, next.csrPem) });
  t.is(badProof.status, 403);
  t.is(badProof.body.reason, 'proof');
  const renewed = await post('/enrol/renew', { id: 'dev-1', csr: next.csrPem, cert: res.body.cert, proof: renewalProof(keyPem, next.csrPem) });
  t.is(renewed.status, 200, JSON.stringify(renewed.body));
  const newCert = new X509Certificate(renewed.body.cert);
  t.true(newCert.verify(ca.publicKey));
  t.not(newCert.serialNumber, cert.serialNumber);
  t.deepEqual(principalOf(newCert), { id: 'dev-1', role: 'worker' });
  t.false('secret' in renewed.body, 'the secret is given once, at enrolment');
  t.is(await metric('tributary_enrolment_refused_total', { reason: 'proof' }), 1);
});

test.serial('unknown and expired tokens are refused with their reason', async (t) => {
  const unknown = await post('/enrol', { id: 'ghost', token: 'f'.repeat(64), csr: (await newCsr('ghost')).csrPem });
  t.is(unknown.status, 403);
  t.is(unknown.body.reason, 'unknown');
  const added = await post('/devices', { id: 'dev-3', ttlSeconds: 1 });
  t.is(added.status, 201);
  const wrongToken = await post('/enrol', { id: 'dev-3', token: 'a'.repeat(64), csr: (await newCsr('dev-3')).csrPem });
  t.is(wrongToken.body.reason, 'unknown');
  // No clock can be injected into another process: wait until the master itself calls it expired.
  await until('dev-3 expired', async () => ((await api(master.httpUrl, '/devices')).body.find((d: { id: string; state: string }) => d.id === 'dev-3')?.state === 'expired' ? true : undefined), 100, 100);
  const expired = await post('/enrol', { id: 'dev-3', token: added.body.token, csr: (await newCsr('dev-3')).csrPem });
  t.is(expired.status, 403);
  t.is(expired.body.reason, 'expired');
  t.is(await metric('tributary_enrolment_refused_total', { reason: 'unknown' }), 2);
  t.is(await metric('tributary_enrolment_refused_total', { reason: 'expired' }), 1);
  t.is(await metric('tributary_devices', { state: 'expired' }), 1);
});

test.serial('bad bodies are 400 with details; the id master is reserved; a second add of a live id is 409', async (t) => {
  const bad = await post('/devices', { id: 'a/b' });
  t.is(bad.status, 400);
  t.true(bad.body.details.some((d: string) => d.startsWith('id:')));
  t.is((await post('/devices', { id: 'master' })).status, 400);
  t.is((await post('/devices', { id: 'x', role: 'agent', grants: { read: ['plant/#'] } })).status, 400, 'grants are for clients');
  t.is((await post('/enrol', { id: 'dev-1' })).status, 400);
  await post('/devices', { id: 'dev-4' });
  const dup = await post('/devices', { id: 'dev-4' });
  t.is(dup.status, 409);
  t.is(dup.body.code, 'TRIB_ERR_DEVICE_EXISTS');
});

test.serial('revoke marks the device; its enrolment and renewals are refused; re-adding it starts over', async (t) => {
  const added = await post('/devices', { id: 'dev-5' });
  const { keyPem, csrPem } = await newCsr('dev-5');
  const enrolled = await post('/enrol', { id: 'dev-5', token: added.body.token, csr: csrPem });
  t.is(enrolled.status, 200);
  const revoked = await api(master.httpUrl, '/devices/dev-5', { method: 'DELETE' });
  t.is(revoked.status, 200);
  t.is(revoked.body.state, 'revoked');
  t.is(typeof revoked.body.revokedAt, 'number');
  await master.proc.waitFor((l) => l.msg === 'device revoked' && l.id === 'dev-5', 'the revocation logged');
  const next = await newCsr('dev-5');
  const renew = await post('/enrol/renew', { id: 'dev-5', csr: next.csrPem, cert: enrolled.body.cert, proof: renewalProof(keyPem, next.csrPem) });
  t.is(renew.status, 403);
  t.is(renew.body.reason, 'revoked');
  t.is((await api(master.httpUrl, '/devices/nope', { method: 'DELETE' })).status, 404);
  t.is(await metric('tributary_devices', { state: 'revoked' }), 1);
  const again = await post('/devices', { id: 'dev-5' });
  t.is(again.status, 201, 'a revoked id can be added again');
  t.is((await post('/enrol', { id: 'dev-5', token: added.body.token, csr: next.csrPem })).body.reason, 'unknown', 'the old token is gone');
});

test.serial('tributary devices add | list | revoke', async (t) => {
  const add = await tributary(['devices', 'add', 'cli-1', '--role', 'worker', '--label', 'site=x', '--ttl', '2h', '--master', master.httpUrl]);
  t.is(add.code, 0, add.stderr);
  const token = /^([0-9a-f]{64})$/m.exec(add.stdout)?.[1];
  t.truthy(token, add.stdout);
  t.regex(add.stdout, new RegExp(`tributary worker --id cli-1 --master ${master.httpUrl} --token ${token}`));
  const dup = await tributary(['devices', 'add', 'cli-1', '--master', master.httpUrl]);
  t.is(dup.code, 1);
  t.regex(dup.stderr, /error \[TRIB_ERR_DEVICE_EXISTS\]/);
  const list = await tributary(['devices', 'list', '--master', master.httpUrl]);
  t.regex(list.stdout, /^cli-1 {2}worker {2}pending {2}site=x {2}token until /m);
  const revoke = await tributary(['devices', 'revoke', 'cli-1', '--master', master.httpUrl]);
  t.is(revoke.code, 0, revoke.stderr);
  t.is(revoke.stdout, 'cli-1: revoked\n');
  const json = JSON.parse((await tributary(['devices', 'list', '--json', '--master', master.httpUrl])).stdout) as { id: string; state: string }[];
  t.is(json.find((d) => d.id === 'cli-1')?.state, 'revoked');
});

/** Connects once, no reconnects; resolves with the client or rejects with the refusal. */
const connect = (url: string, o: mqtt.IClientOptions) => mqtt.connectAsync(url, { protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 10_000, ...o });

test.serial('an enrolled device connects with its certificate over TLS and with its secret over plain TCP; revoked, it is cut off and refused', async (t) => {
  const started = master.proc.lines.find((l) => l.msg === 'master started')!;
  const tlsUrl = String(started.brokerTls);
  const added = await post('/devices', { id: 'dev-6' });
  const { keyPem, csrPem } = await newCsr('dev-6');
  const g = (await post('/enrol', { id: 'dev-6', token: added.body.token, csr: csrPem })).body;
  t.is(g.brokers.tls, tlsUrl);

  const viaCert = await connect(tlsUrl, { clientId: 'dev-6', ca: g.ca, cert: g.cert, key: keyPem });
  t.teardown(() => viaCert.endAsync(true));
  const viaSecret = await connect(master.brokerUrl, { clientId: 'dev-6.sink.1', username: 'dev-6', password: g.secret });
  t.teardown(() => viaSecret.endAsync(true));
  // Its own topics work: the broker knows it as dev-6.
  await viaCert.subscribeAsync('trib/master/ctl/dev-6', { qos: 1 }).then((granted) => t.not(granted[0]?.qos, 128));

  await t.throwsAsync(connect(master.brokerUrl, { clientId: 'anon' }), undefined, 'anonymous refused');
  await t.throwsAsync(connect(master.brokerUrl, { clientId: 'dev-6.x', username: 'dev-6', password: 'wrong' }), undefined, 'wrong secret refused');
  await t.throwsAsync(connect(master.brokerUrl, { clientId: 'master', username: 'master', password: g.secret }), undefined, 'the master\'s identity cannot be claimed');

  const closed = Promise.all([viaCert, viaSecret].map((c) => new Promise<void>((resolve) => c.once('close', () => resolve()))));
  t.is((await api(master.httpUrl, '/devices/dev-6', { method: 'DELETE' })).body.state, 'revoked');
  await closed; // both live connections cut at once
  await t.throwsAsync(connect(tlsUrl, { clientId: 'dev-6', ca: g.ca, cert: g.cert, key: keyPem }), undefined, 'certificate refused after revocation');
  await t.throwsAsync(connect(master.brokerUrl, { clientId: 'dev-6', username: 'dev-6', password: g.secret }), undefined, 'secret refused after revocation');
});
