/**
 * `tributary certs init` and `tributary certs mosquitto` against Debian's real Mosquitto 2: the
 * generated configuration admits a device certificate issued by the fabric CA, confines it with
 * the ACL (its own prefix only, no other device's control topic), lets the master's certificate
 * read everything, and refuses clients without a certificate or with one from another CA.
 */
import test from 'ava';
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { chmod, chown, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import mqtt from 'mqtt';
import { Pki, verifyCsr } from '../cloud-core/src/pki/index.js';
import { tributary } from './helpers/cli.js';
import { newCsr } from './helpers/enrolment.js';
import { MOSQUITTO_BIN } from './helpers/mosquitto.js';
import { freePort, waitForPort } from './helpers/ports.js';
import { tempDir } from './helpers/tmp.js';

test('certs init is idempotent and adds --tls-name to the server certificate only', async (t) => {
  const dir = await tempDir();
  t.teardown(dir.cleanup);
  const data = join(dir.path, 'master');
  const first = await tributary(['certs', 'init', '--data', data]);
  t.is(first.code, 0, first.stderr);
  const ca = await readFile(join(data, 'pki/ca.crt'), 'utf8');
  const master = await readFile(join(data, 'pki/master.crt'), 'utf8');
  const signing = await readFile(join(data, 'pki/signing.pub'), 'utf8');
  t.is(new X509Certificate(await readFile(join(data, 'pki/server.crt'))).checkHost('broker.example'), undefined);
  const second = await tributary(['certs', 'init', '--data', data, '--tls-name', 'broker.example', '--tls-name', '10.1.2.3']);
  t.is(second.code, 0, second.stderr);
  const server = new X509Certificate(await readFile(join(data, 'pki/server.crt')));
  t.is(server.checkHost('broker.example'), 'broker.example');
  t.is(server.checkIP('10.1.2.3'), '10.1.2.3');
  t.is(server.checkIP('127.0.0.1'), '127.0.0.1');
  t.true(server.verify(new X509Certificate(ca).publicKey));
  t.is(await readFile(join(data, 'pki/ca.crt'), 'utf8'), ca, 'the CA is kept');
  t.is(await readFile(join(data, 'pki/master.crt'), 'utf8'), master);
  t.is(await readFile(join(data, 'pki/signing.pub'), 'utf8'), signing);
});

test('certs mosquitto: a device certificate connects and is confined by the ACL; no certificate, or another CA\'s, is refused', async (t) => {
  const dir = await tempDir();
  t.teardown(dir.cleanup);
  await chmod(dir.path, 0o755); // Mosquitto drops to user mosquitto before it reads key and ACL
  const data = join(dir.path, 'master');
  const out = join(dir.path, 'mosquitto');
  const port = await freePort();
  const res = await tributary(['certs', 'mosquitto', '--data', data, '--out', out, '--port', String(port), '--host', '127.0.0.1']);
  t.is(res.code, 0, res.stderr);
  const conf = await readFile(join(out, 'mosquitto.conf'), 'utf8');
  t.regex(conf, /^require_certificate true$/m);
  t.regex(conf, /^use_identity_as_username true$/m);
  t.regex(conf, /^allow_anonymous false$/m);
  t.regex(await readFile(join(out, 'acl'), 'utf8'), /^pattern write trib\/%u\/#$/m);
  // What the operator does: the key readable by the broker's user, nobody else.
  const uid = Number(execFileSync('id', ['-u', 'mosquitto']).toString());
  await chown(join(out, 'server.key'), uid, 0);

  let log = '';
  const child = spawn(MOSQUITTO_BIN, ['-c', join(out, 'mosquitto.conf')], { stdio: ['ignore', 'ignore', 'pipe'] });
  child.stderr.setEncoding('utf8').on('data', (c: string) => (log += c));
  const exited = once(child, 'exit');
  t.teardown(async () => {
    if (child.exitCode === null) {
      child.kill('SIGTERM');
      await exited;
    }
  });
  await waitForPort(port, { abort: exited }).catch((err: Error) => t.fail(`${err.message}\n${log}`));

  // The same CA the command used: a device certificate as enrolment would issue it.
  const pki = await Pki.loadOrCreate(join(data, 'pki'));
  const device = await newCsr('dev-1');
  const issued = await pki.issueClient({ id: 'dev-1', role: 'agent' }, await verifyCsr(device.csrPem, 'dev-1'), 86_400_000);
  const url = `mqtts://127.0.0.1:${port}`;
  const base = { protocolVersion: 4 as const, reconnectPeriod: 0, connectTimeout: 10_000, ca: pki.caCertPem, servername: 'localhost' };

  const master = await mqtt.connectAsync(url, { ...base, clientId: 'master', cert: pki.masterCertPem, key: pki.masterKeyPem });
  t.teardown(() => master.endAsync(true));
  const seen: string[] = [];
  master.on('message', (topic) => seen.push(topic));
  await master.subscribeAsync('trib/#', { qos: 1 });

  const dev = await mqtt.connectAsync(url, { ...base, clientId: 'dev-1', cert: issued.pem, key: device.keyPem });
  t.teardown(() => dev.endAsync(true));
  // Denied first, allowed last: Mosquitto drops a denied publish silently and keeps one client's
  // order, so once the allowed one has arrived the denied ones would have too.
  await dev.publishAsync('trib/dev-2/hb', 'forged', { qos: 1 });
  await dev.publishAsync('trib/master/ctl/dev-2', 'forged', { qos: 1 });
  const arrived = new Promise<void>((resolve) => master.on('message', (topic) => topic === 'trib/dev-1/hb' && resolve()));
  await dev.publishAsync('trib/dev-1/hb', 'ok', { qos: 1 });
  await arrived;
  t.deepEqual(seen, ['trib/dev-1/hb'], 'only its own prefix got through');
  // Mosquitto 2.0 grants a denied subscription under MQTT 3.1.1 but delivers nothing through it:
  // another device's control message (sent first) must not arrive, its own (sent last) must.
  await dev.subscribeAsync(['trib/master/ctl/dev-1', 'trib/master/ctl/dev-2'], { qos: 1 });
  const got: string[] = [];
  const own = new Promise<void>((resolve) => dev.on('message', (topic) => (got.push(topic), topic === 'trib/master/ctl/dev-1' && resolve())));
  await master.publishAsync('trib/master/ctl/dev-2', 'not yours', { qos: 1 });
  await master.publishAsync('trib/master/ctl/dev-1', 'yours', { qos: 1 });
  await own;
  t.deepEqual(got, ['trib/master/ctl/dev-1'], 'its own control topic only');

  await t.throwsAsync(mqtt.connectAsync(url, { ...base, clientId: 'anon' }), undefined, 'no client certificate: refused');
  const foreignDir = await tempDir();
  t.teardown(foreignDir.cleanup);
  const foreign = await Pki.loadOrCreate(foreignDir.path);
  const forged = await foreign.issueClient({ id: 'dev-1', role: 'agent' }, await verifyCsr(device.csrPem, 'dev-1'), 86_400_000);
  await t.throwsAsync(mqtt.connectAsync(url, { ...base, clientId: 'dev-1', cert: forged.pem, key: device.keyPem }), undefined, 'another CA: refused');
});
