/**
 * The master's DeviceRegistry in process, on a real LevelDB store and a real CA, with injected
 * time: token expiry at the exact instant, single use under concurrent enrolments, persistence
 * across a restart, and the BrokerAuthenticator answers (certificate, password, app topics).
 */
import test from 'ava';
import { X509Certificate } from 'node:crypto';
import { join } from 'node:path';
import { createLogger } from '@tributary/shared';
import { DeviceRegistry, EnrolmentRefused } from '../cloud-core/src/master/device-registry.js';
import { LevelMasterStore } from '../cloud-core/src/master/level-master-store.js';
import { Pki, verifyCsr } from '../cloud-core/src/pki/index.js';
import { brokerAuthenticatorConformance } from './helpers/broker-auth-conformance.js';
import { newCsr } from './helpers/enrolment.js';
import { tempDir } from './helpers/tmp.js';

const log = createLogger({ level: 'silent' });
const DAY = 86_400_000;

async function setup(t: import('ava').ExecutionContext, appTopics?: (topic: string, access: 'read' | 'write') => boolean) {
  const dir = await tempDir();
  const store = new LevelMasterStore(join(dir.path, 'm.db'));
  await store.open();
  t.teardown(async () => {
    await store.close();
    await dir.cleanup();
  });
  const pki = await Pki.loadOrCreate(join(dir.path, 'pki'));
  const clock = { now: Date.UTC(2026, 0, 1) };
  const revoked: string[] = [];
  const make = () => new DeviceRegistry({
    store, pki, log, certLifetimeMs: 30 * DAY, brokers: () => ({ plain: 'mqtt://127.0.0.1:1883' }), now: () => clock.now,
    onRevoke: (id) => revoked.push(id), ...(appTopics ? { appTopics } : {}),
  });
  const reg = make();
  await reg.load();
  return { reg, make, pki, clock, revoked };
}

// The BrokerAuthenticator conformance suite (broker-auth's), on the real registry: devices enrol
// through add + enrol with their own CSR; an "unknown" certificate is one this CA issued for an
// id the registry never enrolled.
const fixtureCleanups: (() => Promise<void>)[] = [];
test.after.always(async () => void (await Promise.all(fixtureCleanups.map((c) => c()))));
brokerAuthenticatorConformance(test, 'DeviceRegistry', async () => {
  const dir = await tempDir();
  const store = new LevelMasterStore(join(dir.path, 'm.db'));
  await store.open();
  fixtureCleanups.push(async () => {
    await store.close();
    await dir.cleanup();
  });
  const pki = await Pki.loadOrCreate(join(dir.path, 'pki'));
  const reg = new DeviceRegistry({ store, pki, log, certLifetimeMs: DAY, brokers: () => ({}) });
  return {
    auth: reg,
    async add(id, role) {
      const { token } = await reg.add({ id, role: role as 'agent' | 'worker' | 'client' });
      const g = await reg.enrol({ id, token, csr: (await newCsr(id)).csrPem });
      return { cert: g.cert, secret: g.secret! };
    },
    revoke: async (id) => void (await reg.revoke(id)),
    unknownCert: async (id) => (await pki.issueClient({ id, role: 'agent' }, await verifyCsr((await newCsr(id)).csrPem, id), DAY)).pem,
  };
});

const reasonOf = async (p: Promise<unknown>) => {
  try {
    await p;
    return 'accepted';
  } catch (err) {
    return err instanceof EnrolmentRefused ? err.reason : String(err);
  }
};

test('a token expires exactly at its ttl (injected clock), and is counted as expired', async (t) => {
  const { reg, clock } = await setup(t);
  const { token } = await reg.add({ id: 'a-1', ttlSeconds: 60 });
  clock.now += 60_000;
  t.is(reg.get('a-1')?.state, 'pending', 'valid up to and including its expiry instant');
  clock.now += 1;
  t.is(reg.get('a-1')?.state, 'expired');
  t.is(await reasonOf(reg.enrol({ id: 'a-1', token, csr: (await newCsr('a-1')).csrPem })), 'expired');
  t.is(reg.refusedCounts().get('expired'), 1);
  t.deepEqual(reg.stateCounts(), { pending: 0, expired: 1, enrolled: 0, revoked: 0 });
});

test('two concurrent enrolments with one token: exactly one succeeds', async (t) => {
  const { reg } = await setup(t);
  const { token } = await reg.add({ id: 'a-2' });
  const results = await Promise.all([0, 1, 2].map(async () => reasonOf(reg.enrol({ id: 'a-2', token, csr: (await newCsr('a-2')).csrPem }))));
  t.deepEqual(results.sort(), ['accepted', 'reused', 'reused']);
});

test('certificate and password authentication; role from the certificate; revoked and superseded certificates refused; state survives a restart', async (t) => {
  const { reg, make, pki, clock, revoked } = await setup(t);
  const { token } = await reg.add({ id: 'w-1', role: 'worker' });
  const key = await newCsr('w-1');
  const g = await reg.enrol({ id: 'w-1', token, csr: key.csrPem });
  const cert = new X509Certificate(g.cert);
  t.deepEqual(reg.fromCertificate(cert), { id: 'w-1', role: 'worker' });
  t.deepEqual(reg.fromPassword('w-1', Buffer.from(g.secret!)), { id: 'w-1', role: 'worker' });
  t.is(reg.fromPassword('w-1', Buffer.from('nope')), null);
  t.is(reg.fromPassword('w-2', Buffer.from(g.secret!)), null);
  t.deepEqual(reg.fromPassword('master', Buffer.from(reg.masterPassword)), { id: 'master', role: 'master' });
  t.deepEqual(reg.fromCertificate(pki.masterCert), { id: 'master', role: 'master' });

  // A certificate for the same id with another role (or not issued at enrolment) is refused.
  const other = await pki.issueClient({ id: 'w-1', role: 'agent' }, await verifyCsr(key.csrPem, 'w-1'), DAY);
  t.is(reg.fromCertificate(new X509Certificate(other.pem)), null);
  // A role-master certificate for anyone but the master's own is refused.
  const fakeMaster = await pki.issueClient({ id: 'master', role: 'master' }, await verifyCsr((await newCsr('master')).csrPem, 'master'), DAY);
  t.is(reg.fromCertificate(new X509Certificate(fakeMaster.pem)), null);

  // Restart: a new registry on the same store knows the device (the master's password is new).
  clock.now += DAY;
  const again = make();
  await again.load();
  t.deepEqual(again.fromCertificate(cert), { id: 'w-1', role: 'worker' });
  t.deepEqual(again.fromPassword('w-1', Buffer.from(g.secret!)), { id: 'w-1', role: 'worker' });
  t.is(again.fromPassword('master', Buffer.from(reg.masterPassword)), null);

  await again.revoke('w-1');
  t.deepEqual(revoked, ['w-1'], 'the broker is told to cut its connections');
  t.is(again.fromCertificate(cert), null);
  t.is(again.fromPassword('w-1', Buffer.from(g.secret!)), null);
});

test('application topics: a client by its grants, agents and workers by the master\'s policy (default deny)', async (t) => {
  const { reg } = await setup(t);
  await reg.add({ id: 'c-1', role: 'client', grants: { read: ['plant/#'], write: ['cmd/c-1/+'] } });
  const c = { id: 'c-1', role: 'client' as const };
  t.true(reg.mayUseAppTopic(c, 'read', 'plant/windows'));
  t.true(reg.mayUseAppTopic(c, 'read', 'plant/+'));
  t.false(reg.mayUseAppTopic(c, 'read', '#'), 'a wider filter than granted');
  t.true(reg.mayUseAppTopic(c, 'write', 'cmd/c-1/x'));
  t.false(reg.mayUseAppTopic(c, 'write', 'plant/windows'));
  t.false(reg.mayUseAppTopic({ id: 'a-1', role: 'agent' }, 'write', 'plant/windows'), 'default deny');
  const withPolicy = (await setup(t, (topic, access) => topic === 'plant/windows' && access === 'write')).reg;
  t.true(withPolicy.mayUseAppTopic({ id: 'a-1', role: 'agent' }, 'write', 'plant/windows'));
  t.false(withPolicy.mayUseAppTopic({ id: 'a-1', role: 'agent' }, 'read', 'plant/windows'));
});
