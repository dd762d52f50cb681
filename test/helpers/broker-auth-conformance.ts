/**
 * Conformance suite of `BrokerAuthenticator` (cloud-core/src/broker/broker-auth.ts): what the
 * embedded broker relies on from any implementation, the memory `staticAuthenticator` and the
 * master's device registry alike. Register it from a test file with a fixture factory.
 */
import { randomBytes, X509Certificate } from 'node:crypto';
import type { TestFn } from 'ava';
import type { BrokerAuthenticator, Role } from '../../cloud-core/src/broker/index.js';

export interface AuthenticatorFixture {
  auth: BrokerAuthenticator;
  /** Registers (enrols) `id` with `role`; its certificate (PEM, issued by the fabric CA) and per-device secret. */
  add(id: string, role: Role): Promise<{ cert: string; secret: string }>;
  /** Revokes `id`: from now on neither its certificate nor its secret is accepted. */
  revoke(id: string): Promise<void> | void;
  /** A certificate of the fabric CA for an id never registered. */
  unknownCert(id: string): Promise<string>;
}

export function brokerAuthenticatorConformance(test: TestFn, name: string, fixture: () => Promise<AuthenticatorFixture>): void {
  test(`${name}: certificates and secrets map to {id, role}; unknown, wrong and revoked ones are refused`, async (t) => {
    const f = await fixture();
    const agent = await f.add('agent-7', 'agent');
    const worker = await f.add('worker-2', 'worker');
    t.deepEqual(f.auth.fromCertificate(new X509Certificate(agent.cert)), { id: 'agent-7', role: 'agent' });
    t.deepEqual(f.auth.fromCertificate(new X509Certificate(worker.cert)), { id: 'worker-2', role: 'worker' });
    t.deepEqual(f.auth.fromPassword('agent-7', Buffer.from(agent.secret)), { id: 'agent-7', role: 'agent' });
    t.is(f.auth.fromPassword('agent-7', Buffer.from(worker.secret)), null, "another device's secret");
    t.is(f.auth.fromPassword('agent-7', Buffer.alloc(0)), null, 'empty password');
    t.is(f.auth.fromPassword('agent-7', randomBytes(32)), null, 'random password');
    t.is(f.auth.fromPassword('nobody', Buffer.from(agent.secret)), null, 'unknown username');
    t.is(f.auth.fromCertificate(new X509Certificate(await f.unknownCert('ghost-1'))), null, 'unregistered CN');
    await f.revoke('agent-7');
    t.is(f.auth.fromCertificate(new X509Certificate(agent.cert)), null, 'revoked certificate');
    t.is(f.auth.fromPassword('agent-7', Buffer.from(agent.secret)), null, 'revoked secret');
    t.deepEqual(f.auth.fromPassword('worker-2', Buffer.from(worker.secret)), { id: 'worker-2', role: 'worker' }, 'others unaffected');
  });

  test(`${name}: no application topic is granted by default`, async (t) => {
    const f = await fixture();
    await f.add('agent-8', 'agent');
    const p = { id: 'agent-8', role: 'agent' as const };
    for (const access of ['read', 'write'] as const) {
      for (const topic of ['plant/windows', 'some/other/topic']) t.false(f.auth.mayUseAppTopic(p, access, topic), `${access} ${topic}`);
    }
  });
}
