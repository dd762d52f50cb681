import test from 'ava';
import { createHash, generateKeyPairSync, sign } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { mkdir, readFile, readlink, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { agentSigningPayload, createLogger, type DesiredAgent } from '@tributary/shared';
import { AgentUpdater } from '../edge-agent/src/update/updater.js';
import { Slots } from '../edge-agent/src/update/slots.js';
import { runGuard } from './helpers/supervise.js';
import { tempDir } from './helpers/tmp.js';

/**
 * Self-update on one device, without a master: the start guard (deploy/agent-guard.sh) on its own,
 * and the agent's updater (edge-agent/src/update/) against a local HTTP server serving binaries.
 * The fleet path with real agents is test/rollout.test.ts.
 */
const log = createLogger({ level: 'silent' });
const { privateKey, publicKey } = generateKeyPairSync('ed25519');
const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

async function device(t: import('ava').ExecutionContext) {
  const dir = await tempDir('trib-update-');
  t.teardown(dir.cleanup);
  const factory = join(dir.path, 'factory');
  await writeFile(factory, '#!/bin/sh\necho v1\n', { mode: 0o755 });
  const agentDir = join(dir.path, 'agent');
  const g = await runGuard(['--install', agentDir, factory, 'v1']);
  t.is(g.code, 0, g.stderr);
  return { dir: dir.path, agentDir, factory, slots: new Slots(agentDir) };
}

test('guard: a version on trial gets MAX starts, then current goes back to the previous slot and the result says why', async (t) => {
  const { agentDir, factory, slots } = await device(t);
  t.is(await slots.currentSlot(), 'a');
  await mkdir(join(agentDir, 'slots/b'), { recursive: true });
  await writeFile(join(agentDir, 'slots/b/tributary-agent'), '#!/bin/sh\nexit 1\n', { mode: 0o755 });
  await slots.stage('b', join(agentDir, 'slots/b/tributary-agent'), 'v2');
  await slots.switchOnTrial('b', 'v2', 600);
  t.is(await slots.currentSlot(), 'b');
  for (let start = 1; start <= 3; start++) {
    t.is((await runGuard([agentDir, factory])).code, 0);
    t.like(await slots.trial(), { starts: start, version: 'v2' });
    t.is(await slots.currentSlot(), 'b', `start ${start}: still on trial`);
  }
  const g = await runGuard([agentDir, factory]);
  t.is(g.code, 0);
  t.regex(g.stderr, /rolled back to slot a/);
  t.is(await slots.currentSlot(), 'a');
  t.is(await slots.trial(), null);
  t.like(await slots.result(), { state: 'rolled-back', version: 'v2' });
  t.regex((await slots.result())!.reason, /crash loop: 3 starts/);
});

test('guard: a start after the trial deadline rolls back; a wiped slot directory is seeded from the factory binary', async (t) => {
  const { agentDir, factory, slots } = await device(t);
  await writeFile(join(agentDir, 'x'), '#!/bin/sh\n', { mode: 0o755 });
  await slots.stage('b', join(agentDir, 'x'), 'v2');
  await slots.switchOnTrial('b', 'v2', -10);
  t.is((await runGuard([agentDir, factory])).code, 0);
  t.is(await slots.currentSlot(), 'a');
  t.regex((await slots.result())!.reason, /deadline/);

  const { rm } = await import('node:fs/promises');
  await rm(agentDir, { recursive: true });
  t.is((await runGuard([agentDir, factory])).code, 0);
  t.is(await readFile(join(agentDir, 'current'), 'utf8'), '#!/bin/sh\necho v1\n');
  t.regex(await readlink(join(agentDir, 'current')), /^slots\/[ab]\/tributary-agent$/, 'a relative link: the data directory can move');
});

/** Serves `files` (path -> bytes) over HTTP on loopback. */
async function serve(t: import('ava').ExecutionContext, files: Record<string, Buffer>): Promise<string> {
  const server: Server = createServer((req, res) => {
    const body = files[req.url ?? ''];
    if (!body) { res.statusCode = 404; res.end(); return; }
    res.setHeader('content-length', body.length);
    res.end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function updater(agentDir: string, keyFile: string, over: Partial<ConstructorParameters<typeof AgentUpdater>[0]> = {}) {
  const events: string[] = [];
  let restarted: (r: string) => void = () => {};
  const restart = new Promise<string>((r) => { restarted = r; });
  const changes: (() => void)[] = [];
  const u = new AgentUpdater({
    dir: agentDir, keyFiles: [keyFile], deadlineSeconds: 60, reserveBytes: 0, healthyForMs: 0, fallbackVersion: '0.0.0', log,
    restart: (reason) => { events.push(`restart: ${reason}`); restarted(reason); }, changed: () => changes.forEach((f) => f()), ...over,
  });
  /** Resolves when the updater reports `state` (its `changed` callback is the event). */
  const reaches = (state: string) => new Promise<void>((r) => changes.push(() => { if (u.report().state === state) r(); }));
  return { u, events, restart, reaches };
}

async function withKey(dir: string): Promise<string> {
  const keyFile = join(dir, 'master-signing.pub');
  await writeFile(keyFile, publicKey.export({ type: 'spki', format: 'pem' }));
  return keyFile;
}

const v2 = Buffer.from('#!/bin/sh\necho v2\n');
const signed = (url: string, bytes: Buffer, version = 'v2'): DesiredAgent => ({ version, url, sha256: sha(bytes), signature: sign(null, agentSigningPayload(sha(bytes)), privateKey).toString('base64') });

test('updater: a signed download goes into the spare slot and switches on trial; the new version commits once healthy', async (t) => {
  const { dir, agentDir, slots } = await device(t);
  const base = await serve(t, { '/v2': v2 });
  const key = await withKey(dir);
  const a = updater(agentDir, key);
  await a.u.init();
  t.like(a.u.report(), { version: 'v1', slots: true });
  a.u.apply(signed(`${base}/v2`, v2));
  t.is(await a.restart, 'update to v2');
  t.is(await slots.currentSlot(), 'b');
  t.deepEqual(await readFile(join(agentDir, 'current')), v2);
  t.like(await slots.trial(), { version: 'v2', starts: 0 });
  // The process that starts next: on trial, healthy -> committed.
  const b = updater(agentDir, key);
  await b.u.init();
  t.like(b.u.report(), { version: 'v2', state: 'trial' });
  const committed = b.reaches('committed');
  await b.u.watch(() => ({ ok: true, reason: 'healthy' }));
  await committed;
  t.like(b.u.report(), { version: 'v2', state: 'committed' });
  t.is(await slots.trial(), null);
});

test('updater: a version that is never healthy goes back by itself at its deadline (health check, no crash)', async (t) => {
  const { dir, agentDir, slots } = await device(t);
  const key = await withKey(dir);
  await writeFile(join(agentDir, 'dl'), v2, { mode: 0o755 });
  await slots.stage('b', join(agentDir, 'dl'), 'v2');
  await slots.switchOnTrial('b', 'v2', 1);
  const b = updater(agentDir, key);
  await b.u.init();
  await b.u.watch(() => ({ ok: false, reason: 'application plant is failed: boom' }));
  t.regex(await b.restart, /health check failed: not healthy by the deadline \(application plant is failed: boom\)/);
  t.is(await slots.currentSlot(), 'a');
  t.like(await slots.result(), { state: 'rolled-back', version: 'v2' });
  // The old version, started again, reports it and does not try that build again.
  const c = updater(agentDir, key);
  await c.u.init();
  t.like(c.u.report(), { version: 'v1', state: 'rolled-back', target: 'v2' });
  c.u.apply(signed('http://127.0.0.1:9/never-fetched', v2));
  t.like(c.u.report(), { state: 'failed', target: 'v2' });
  t.regex(c.u.report().reason!, /not tried again/);
});

test('updater: a wrong hash, a bad signature, a missing key or a download past the disk budget switch nothing', async (t) => {
  const { dir, agentDir, slots } = await device(t);
  const base = await serve(t, { '/v2': v2, '/evil': Buffer.from('#!/bin/sh\nrm -rf /\n') });
  const key = await withKey(dir);
  const cases: [string, DesiredAgent, Partial<ConstructorParameters<typeof AgentUpdater>[0]>, RegExp][] = [
    ['hash', { ...signed(`${base}/evil`, v2) }, {}, /SHA-256 .* is not the expected/],
    ['signature', { ...signed(`${base}/v2`, v2), signature: sign(null, Buffer.from('other'), privateKey).toString('base64') }, {}, /signature does not verify/],
    ['key', signed(`${base}/v2`, v2), { keyFiles: [join(dir, 'nope.pub')] }, /no master signing key/],
    ['disk', signed(`${base}/v2`, v2), { reserveBytes: Number.MAX_SAFE_INTEGER }, /not enough disk/],
  ];
  for (const [what, target, over, reason] of cases) {
    const a = updater(agentDir, key, over);
    await a.u.init();
    const failed = a.reaches('failed');
    a.u.apply(target);
    await failed;
    t.regex(a.u.report().reason!, reason, what);
    t.deepEqual(a.events, [], `${what}: no restart`);
    t.is(await slots.currentSlot(), 'a', `${what}: still on slot a`);
    t.is(await slots.trial(), null, `${what}: no trial`);
  }
});

test('updater: a trial left by a switch the power cut short (current never moved) is cleared by the old version', async (t) => {
  const { dir, agentDir, slots } = await device(t);
  // switchOnTrial's first two steps only: previous and trial written, current still slot a.
  await writeFile(join(agentDir, 'trial'), `0 ${Math.floor(Date.now() / 1000) + 60} v2\n`);
  const a = updater(agentDir, await withKey(dir));
  await a.u.init();
  t.is(await slots.trial(), null);
  t.like(a.u.report(), { version: 'v1', state: 'interrupted', target: 'v2' });
});
