import test from 'ava';
import { existsSync, statSync } from 'node:fs';
import { cp, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pino } from 'pino';
import { ErrorCodes, connectMqttTransport, type Logger } from '@tributary/shared';
import { X509Certificate } from 'node:crypto';
import {
  IdentityRenewer, certificateInfo, credentialsFor, identityDir, isLoopbackUrl, loadIdentity, renew, resolveNodeConnection, type NodeIdentity,
} from '@tributary/shared/identity';
import { launchNode } from '../cli/src/launcher.js';
import { startEnrolmentServer, type EnrolmentServer } from './helpers/enrolment-server.js';
import { FakeClock } from './helpers/fake-clock.js';
import { tributary } from './helpers/cli.js';
import { tempDir } from './helpers/tmp.js';

/**
 * The node's side of enrolment and identity (issue 13; security-spec.md "Node data layout",
 * "Enrolment flow"), against a real HTTP enrolment server with its own CA and a real TLS broker
 * that verifies client certificates (helpers/enrolment-server.ts): the client's files, reuse,
 * renewal on an injected clock, refusals, and the agent and worker processes.
 */

const DAY = 24 * 3600 * 1000;

type Line = Record<string, unknown>;
/** A logger whose JSON lines the test can await. */
function capture(): { log: Logger; lines: Line[]; waitFor: (test: (l: Line) => boolean) => Promise<Line> } {
  const lines: Line[] = [];
  let waiters: { test: (l: Line) => boolean; resolve: (l: Line) => void }[] = [];
  const log = pino({ level: 'debug' }, {
    write(s: string) {
      const l = JSON.parse(s) as Line;
      lines.push(l);
      waiters = waiters.filter((w) => (w.test(l) ? (w.resolve(l), false) : true));
    },
  }) as unknown as Logger;
  return {
    log, lines,
    waitFor: (t) => {
      const seen = lines.find(t);
      return seen ? Promise.resolve(seen) : new Promise((resolve) => waiters.push({ test: t, resolve }));
    },
  };
}

const mode = (path: string) => statSync(path).mode & 0o777;

async function enrolled(server: EnrolmentServer, id: string, dataDir: string, log = capture().log) {
  return resolveNodeConnection({ id, role: 'agent', master: server.url, token: server.addDevice(id), dataDir, log });
}

test('enrolment writes the identity (keys 0600, a certificate for the id) and the node connects by TLS with it', async (t) => {
  const server = await startEnrolmentServer({ broker: true });
  const dir = await tempDir();
  t.teardown(async () => { await server.close(); await dir.cleanup(); });
  const conn = await enrolled(server, 'dev-1', dir.path);
  const id = identityDir(dir.path);
  t.is(mode(id), 0o700);
  t.is(mode(join(id, 'key.pem')), 0o600);
  t.is(mode(join(id, 'secret')), 0o600);
  for (const f of ['cert.pem', 'ca.pem', 'master-signing.pub', 'enrolment.json']) t.true(existsSync(join(id, f)), f);
  const cert = await readFile(join(id, 'cert.pem'), 'utf8');
  t.is(certificateInfo(cert).subject, 'CN=dev-1');
  t.is(await readFile(join(id, 'ca.pem'), 'utf8'), server.caPem);
  const enrolment = JSON.parse(await readFile(join(id, 'enrolment.json'), 'utf8'));
  t.like(enrolment, { id: 'dev-1', role: 'agent', brokers: { tls: server.brokerUrl }, masterUrl: server.url });
  t.is(Date.parse(enrolment.certNotAfter), certificateInfo(cert).notAfter);
  t.is(conn.brokerUrl, server.brokerUrl!);
  t.deepEqual(Object.keys(conn.credentials), ['tls']);
  // The broker verifies the client certificate against the CA and its CN against the client id.
  const transport = await connectMqttTransport({ url: conn.brokerUrl, clientId: 'dev-1', ...conn.credentials, connectTimeoutMs: 5000 });
  t.true(transport.connected);
  await transport.close();
  // Another id with that certificate is refused by the broker.
  await t.throwsAsync(connectMqttTransport({ url: conn.brokerUrl, clientId: 'dev-2', ...conn.credentials, connectTimeoutMs: 5000 }), { code: ErrorCodes.BROKER_REFUSED });
});

test('a second start reuses the identity without a token; a used token is refused', async (t) => {
  const server = await startEnrolmentServer({ broker: true });
  const dir = await tempDir();
  t.teardown(async () => { await server.close(); await dir.cleanup(); });
  const token = server.addDevice('dev-1');
  const log = capture().log;
  const first = await resolveNodeConnection({ id: 'dev-1', role: 'agent', master: server.url, token, dataDir: dir.path, log });
  const again = await resolveNodeConnection({ id: 'dev-1', role: 'agent', master: server.url, dataDir: dir.path, log });
  t.is(server.issued.enrol, 1);
  t.deepEqual(again.credentials, first.credentials);
  t.is(again.brokerUrl, server.brokerUrl!);
  // mqtts:// directly: the stored identity is used too; mqtt:// gets id + secret.
  const direct = await resolveNodeConnection({ id: 'dev-1', role: 'agent', master: server.brokerUrl!, dataDir: dir.path, log });
  t.deepEqual(direct.credentials, first.credentials);
  const plain = await resolveNodeConnection({ id: 'dev-1', role: 'agent', master: 'mqtt://127.0.0.1:1', dataDir: dir.path, log });
  t.deepEqual(plain.credentials, { username: 'dev-1', password: (await readFile(join(identityDir(dir.path), 'secret'), 'utf8')).trim() });
  // The same token again, on a fresh data directory: single use.
  const other = await tempDir();
  t.teardown(other.cleanup);
  await t.throwsAsync(resolveNodeConnection({ id: 'dev-1', role: 'agent', master: server.url, token, dataDir: other.path, log }), { code: ErrorCodes.ENROLMENT_REFUSED });
  // Another node's directory is not taken over.
  await t.throwsAsync(resolveNodeConnection({ id: 'dev-9', role: 'agent', master: server.url, dataDir: dir.path, log }), { code: ErrorCodes.IDENTITY_INVALID, message: /identity of dev-1/ });
});

test('a wrong token or none: clear errors, nothing written', async (t) => {
  const server = await startEnrolmentServer();
  const dir = await tempDir();
  t.teardown(async () => { await server.close(); await dir.cleanup(); });
  const log = capture().log;
  const wrong = await t.throwsAsync(resolveNodeConnection({ id: 'dev-1', role: 'agent', master: server.url, token: 'not-a-token', dataDir: dir.path, log }), { code: ErrorCodes.ENROLMENT_REFUSED });
  t.regex(wrong!.message, /refused it \(HTTP 403\): enrolment token unknown/);
  t.false(existsSync(identityDir(dir.path)));
  await t.throwsAsync(resolveNodeConnection({ id: 'dev-1', role: 'agent', master: server.url, dataDir: dir.path, log }), { code: ErrorCodes.IDENTITY_INVALID, message: /no enrolment token/ });
  await t.throwsAsync(resolveNodeConnection({ id: 'dev-1', role: 'agent', master: 'http://127.0.0.1:1', token: 'x', dataDir: dir.path, log }), { code: ErrorCodes.ENROLMENT_FAILED, message: /not reachable/ });
  await t.throwsAsync(resolveNodeConnection({ id: 'dev-1', role: 'agent', master: 'mqtt://127.0.0.1:1', token: 'x', dataDir: dir.path, log }), { code: ErrorCodes.CONFIG_INVALID });
  // No identity and an mqtt:// master: anonymous, as before enrolment existed.
  t.deepEqual(await resolveNodeConnection({ id: 'dev-1', role: 'agent', master: 'mqtt://127.0.0.1:1', dataDir: dir.path, log }), { brokerUrl: 'mqtt://127.0.0.1:1', credentials: {}, identity: null });
});

test('renewal replaces the certificate at 2/3 of its lifetime (injected clock), retrying with back-off after failures', async (t) => {
  const server = await startEnrolmentServer({ broker: true, certLifetimeMs: 30 * DAY });
  const dir = await tempDir();
  t.teardown(async () => { await server.close(); await dir.cleanup(); });
  const { log, waitFor } = capture();
  const conn = await enrolled(server, 'dev-1', dir.path, log);
  const before = conn.identity!;
  const clock = new FakeClock(Date.now());
  let renewed!: (i: NodeIdentity) => void;
  const renewal = new Promise<NodeIdentity>((r) => (renewed = r));
  const renewer = new IdentityRenewer({ identity: before, dataDir: dir.path, log, clock, retryMs: 60_000, onRenewed: (i) => renewed(i) }).start();
  t.teardown(() => renewer.stop());
  t.is(renewer.renewAt, before.certNotBefore + Math.floor(((before.certNotAfter - before.certNotBefore) * 2) / 3));
  clock.advance(renewer.renewAt - clock.now() - 1000);
  t.is(server.issued.renew, 0, 'not before 2/3 of the lifetime');
  server.failRenewals(2);
  clock.advance(1000);
  t.like(await waitFor((l) => l.event === 'certificate-renewal-failed' && l.attempt === 1), { retryInMs: 60_000, code: ErrorCodes.ENROLMENT_FAILED });
  clock.advance(60_000);
  t.like(await waitFor((l) => l.event === 'certificate-renewal-failed' && l.attempt === 2), { retryInMs: 120_000 });
  clock.advance(120_000);
  const after = await renewal;
  t.is(server.issued.renew, 1);
  t.not(after.cert, before.cert);
  t.not(after.key, before.key, 'a new key pair with every renewal');
  t.is(after.secret, before.secret);
  t.is(await readFile(join(identityDir(dir.path), 'cert.pem'), 'utf8'), after.cert);
  t.is(await readFile(join(identityDir(dir.path), 'key.pem'), 'utf8'), after.key);
  t.is(mode(join(identityDir(dir.path), 'key.pem')), 0o600);
  t.is(renewer.renewAt, after.certNotBefore + Math.floor(((after.certNotAfter - after.certNotBefore) * 2) / 3), 'the next renewal is for the new certificate');
  t.is(clock.pending, 1);
  // The renewed identity is what the next start loads, and the broker accepts it.
  const loaded = await loadIdentity(dir.path);
  t.is(loaded!.cert, after.cert);
  const transport = await connectMqttTransport({ url: server.brokerUrl!, clientId: 'dev-1', tls: { ca: after.ca, cert: after.cert, key: after.key }, connectTimeoutMs: 5000 });
  await transport.close();
});

test('an expired certificate is reported clearly: at start, and by the renewer', async (t) => {
  const server = await startEnrolmentServer({ broker: true });
  const dir = await tempDir();
  t.teardown(async () => { await server.close(); await dir.cleanup(); });
  const { log, waitFor } = capture();
  const conn = await enrolled(server, 'dev-1', dir.path, log);
  const later = { now: () => conn.identity!.certNotAfter + 1 };
  await t.throwsAsync(resolveNodeConnection({ id: 'dev-1', role: 'agent', master: server.url, dataDir: dir.path, log, clock: later }), { code: ErrorCodes.CERT_EXPIRED, message: /expired at .*enrol this node again/ });
  await t.throwsAsync(resolveNodeConnection({ id: 'dev-1', role: 'agent', master: server.brokerUrl!, dataDir: dir.path, log, clock: later }), { code: ErrorCodes.CERT_EXPIRED });
  const clock = new FakeClock(conn.identity!.certNotAfter + 1);
  const renewer = new IdentityRenewer({ identity: conn.identity!, dataDir: dir.path, log, clock }).start();
  t.teardown(() => renewer.stop());
  clock.advance(1);
  t.like(await waitFor((l) => l.event === 'certificate-expired'), { code: ErrorCodes.CERT_EXPIRED, id: 'dev-1' });
  t.is(server.issued.renew, 0);
  // With a new token, an expired node enrols again.
  const again = await resolveNodeConnection({ id: 'dev-1', role: 'agent', master: server.url, token: server.addDevice('dev-1'), dataDir: dir.path, log, clock: later });
  t.is(server.issued.enrol, 2);
  t.not(again.identity!.cert, conn.identity!.cert);
});

test('a half-done identity swap (crash while renewing) is completed or discarded on load', async (t) => {
  const server = await startEnrolmentServer({ brokers: { plain: 'mqtt://127.0.0.1:1' } });
  const dir = await tempDir();
  t.teardown(async () => { await server.close(); await dir.cleanup(); });
  const conn = await enrolled(server, 'dev-1', dir.path);
  const id = identityDir(dir.path);
  // Crash between the two renames: the old identity moved aside, the new one complete beside it.
  await cp(id, `${id}.old`, { recursive: true });
  await rename(id, `${id}.new`);
  t.is((await loadIdentity(dir.path))!.cert, conn.identity!.cert);
  t.false(existsSync(`${id}.new`));
  t.false(existsSync(`${id}.old`));
  // Crash while writing the new one: discarded, the current identity stays.
  await mkdir(`${id}.new`);
  await writeFile(join(`${id}.new`, 'key.pem'), 'partial');
  t.is((await loadIdentity(dir.path))!.cert, conn.identity!.cert);
  t.false(existsSync(`${id}.new`));
  // A damaged identity is an error, never half used.
  await writeFile(join(id, 'cert.pem'), 'garbage');
  await t.throwsAsync(loadIdentity(dir.path), { code: ErrorCodes.IDENTITY_INVALID, message: /cert.pem is not a certificate/ });
});

test('on the master\'s own host a node takes the plain loopback listener (id + secret); elsewhere, or with brokerTls always, TLS', async (t) => {
  const brokers = { tls: 'mqtts://cloud.example:8883', plain: 'mqtt://127.0.0.1:1883' };
  const server = await startEnrolmentServer({ brokers });
  const dir = await tempDir();
  t.teardown(async () => { await server.close(); await dir.cleanup(); });
  const log = capture().log;
  const local = await resolveNodeConnection({ id: 'dev-1', role: 'agent', master: server.url, token: server.addDevice('dev-1'), dataDir: dir.path, log });
  t.is(local.brokerUrl, brokers.plain);
  t.deepEqual(Object.keys(local.credentials).sort(), ['password', 'username']);
  const always = await resolveNodeConnection({ id: 'dev-1', role: 'agent', master: server.url, dataDir: dir.path, log, brokerTls: 'always' });
  t.is(always.brokerUrl, brokers.tls);
  t.deepEqual(Object.keys(always.credentials), ['tls']);
  // The same identity with the master named by a public address: not this host, so TLS.
  const remote = await resolveNodeConnection({ id: 'dev-1', role: 'agent', master: 'https://cloud.example', dataDir: dir.path, log });
  t.is(remote.brokerUrl, brokers.tls);
  t.deepEqual(
    ['http://127.0.0.1:8080', 'http://127.1.2.3', 'http://localhost:1', 'http://[::1]:8080', 'http://10.0.0.1', 'https://cloud.example', 'http://127.0.0.1.example.com', 'not a url'].map(isLoopbackUrl),
    [true, true, true, true, false, false, false, false],
  );
});

test.serial('processes: an agent and a worker enrol over http and connect by TLS; restart without token; a wrong token exits 1; a revoked agent exits 1', async (t) => {
  const server = await startEnrolmentServer({ broker: true });
  const dir = await tempDir();
  t.teardown(async () => { await server.close(); await dir.cleanup(); });
  const data = join(dir.path, 'dev-p');
  const wrong = await tributary(['agent', '--id', 'dev-p', '--master', server.url, '--token', 'nope', '--data', data]);
  t.is(wrong.code, 1);
  t.regex(wrong.stderr, /error \[TRIB_ERR_ENROLMENT_REFUSED\]: enrolment of dev-p: the master refused it \(HTTP 403\)/);
  t.false(existsSync(identityDir(data)));

  const agent = await launchNode('agent', 'dev-p', ['--master', server.url, '--data', data], { TRIBUTARY_ENROL_TOKEN: server.addDevice('dev-p') });
  t.is((await agent.waitFor((l) => l.msg === 'agent started', 'started')).broker, server.brokerUrl);
  t.truthy(agent.lines.find((l) => l.event === 'enrolled'));
  // Not asserted 0: a SIGTERM right after "started" may precede the signal handler (pre-existing, main too).
  await agent.stop();
  const again = await launchNode('agent', 'dev-p', ['--master', server.url, '--data', data]);
  t.is(server.issued.enrol, 1, 'the restart reused the identity');
  t.falsy(again.lines.find((l) => l.event === 'enrolled'));

  const worker = await launchNode('worker', 'w-p', ['--master', server.url, '--token', server.addDevice('w-p'), '--data', join(dir.path, 'w-p')]);
  t.is(JSON.parse(await readFile(join(identityDir(join(dir.path, 'w-p')), 'enrolment.json'), 'utf8')).role, 'worker');
  await worker.stop();

  server.revoke('dev-p');
  t.is(await again.exited, 1, 'a revoked agent exits non-zero instead of retrying');
  t.truthy(again.lines.find((l) => l.event === 'identity-refused'));
});

test('after a renewal, the next reconnect presents the new certificate (setCredentials)', async (t) => {
  const server = await startEnrolmentServer({ broker: true });
  const dir = await tempDir();
  t.teardown(async () => { await server.close(); await dir.cleanup(); });
  const conn = await enrolled(server, 'dev-1', dir.path);
  const transport = await connectMqttTransport({ url: conn.brokerUrl, clientId: 'dev-1', ...conn.credentials, reconnectMs: 100, connectTimeoutMs: 5000 });
  t.teardown(() => transport.close());
  const serialOf = (pem: string) => new X509Certificate(pem).serialNumber;
  t.is(server.connections.at(-1)!.serial, serialOf(conn.identity!.cert));
  const renewed = await renew(conn.identity!, dir.path);
  transport.setCredentials(credentialsFor(renewed, conn.brokerUrl));
  const back = new Promise<void>((resolve) => transport.onStatus((s) => s === 'connected' && resolve()));
  server.kick('dev-1');
  await back;
  t.is(server.connections.length, 2);
  t.is(server.connections.at(-1)!.serial, serialOf(renewed.cert));
});

test('a data directory holding only the master key trusted on first use has no identity (a restarted unenrolled node starts)', async (t) => {
  const dir = await tempDir();
  t.teardown(dir.cleanup);
  await mkdir(join(dir.path, 'identity'), { recursive: true });
  await writeFile(join(dir.path, 'identity', 'master-signing.pub'), '-----BEGIN PUBLIC KEY-----\n-----END PUBLIC KEY-----\n');
  t.is(await loadIdentity(dir.path), null);
  // Half an identity is still refused loudly, never taken for none.
  await writeFile(join(dir.path, 'identity', 'key.pem'), 'x');
  const err = await t.throwsAsync(loadIdentity(dir.path));
  t.is((err as { code?: string }).code, ErrorCodes.IDENTITY_INVALID);
});
