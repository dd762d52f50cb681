import test from 'ava';
import { EventEmitter } from 'node:events';
import { createHash, createPrivateKey, sign } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import {
  cborEncoder, configSigningPayload, decodeControl, topics,
  type AgentUpdateReport, type DesiredConfig, type NodeDesiredState, type NodeHeartbeat, type NodeHello,
} from '@tributary/shared';
import { startMaster, waitForNodesOnline, type RunningMaster } from './helpers/cluster.js';
import { repoRoot, tributary } from './helpers/cli.js';
import { Supervisor, runGuard } from './helpers/supervise.js';
import { tempDir } from './helpers/tmp.js';

/**
 * Remote configurations with a real agent process (issue 16, the agent's side of `tributary fleet
 * rollout config`): a real master with an application running on the agent, the agent installed
 * into slots and run by a supervise loop as systemd runs it (guard, `current`, restart on exit).
 * The master does not send configurations itself yet, so the test adds a `config`, signed with
 * the master's own key (<master data>/pki/signing.key), to the master's latest desired state for
 * the agent and publishes that on the agent's control topic; it reads the agent's hellos and
 * heartbeats from the broker. One change at a time, in order: a good configuration commits, then
 * one that makes the application fail rolls back by itself at its deadline.
 */
const ID = 'dev-1';
const agentScript = `#!/bin/sh\nexec '${process.execPath}' '${join(repoRoot, 'cli/bin/tributary.js')}' agent "$@"\n`;
const APP = `
  import { jsonLinesSink, pipeline, simulatedSensors, type Params } from 'tributary';
  export default (params: Params) => pipeline('meter')
    .source(simulatedSensors({ count: 1000000, intervalMs: 1000, startTs: 1700000000000, paced: true, speed: 1 })).at('edge')
    .map((r) => ({ ts: r.ts, value: r.value }))
    .sink(jsonLinesSink(params.string('output')));
`;

interface Seen { hello?: NodeHello; desired?: NodeDesiredState; heartbeat?: NodeHeartbeat; reports: AgentUpdateReport[] }

let dir: { path: string; cleanup: () => Promise<void> };
let master: RunningMaster;
let agent: Supervisor;
let client: MqttClient;
let signingKey: ReturnType<typeof createPrivateKey>;
const seen: Seen = { reports: [] };
const events = new EventEmitter().setMaxListeners(50);
const data = () => join(dir.path, ID);

/** Resolves with the first value `pick` returns for what the broker delivered (already, or later). */
function when<T>(what: string, pick: () => T | undefined, timeoutMs = 120_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const check = () => {
      const v = pick();
      if (v === undefined) return;
      clearTimeout(timer);
      events.off('seen', check);
      resolve(v);
    };
    const timer = setTimeout(() => { events.off('seen', check); reject(new Error(`no ${what} within ${timeoutMs} ms`)); }, timeoutMs);
    events.on('seen', check);
    check();
  });
}

function signed(settings: Record<string, unknown>): DesiredConfig {
  const body = Buffer.from(JSON.stringify(settings));
  const sha256 = createHash('sha256').update(body).digest('hex');
  return { sha256, body, signature: sign(null, configSigningPayload(sha256), signingKey).toString('base64') };
}

/** The master's desired state for this run of the agent, with `config` added, on its control topic. */
async function rollOut(config: DesiredConfig): Promise<void> {
  const boot = seen.hello?.boot;
  const desired = await when('desired state for the running agent', () => (seen.desired && seen.desired.boot === boot && seen.desired.apps.length > 0 ? seen.desired : undefined));
  await client.publishAsync(topics.control(ID), Buffer.from(cborEncoder.encode({ ...desired, config })), { qos: 1 });
}

test.before(async () => {
  dir = await tempDir('trib-config-agent-');
  master = await startMaster(join(dir.path, 'master'), ['--allow-anonymous-mqtt', 'on']);
  signingKey = createPrivateKey(await readFile(join(dir.path, 'master', 'pki', 'signing.key')));
  client = await mqtt.connectAsync(master.brokerUrl, { protocolVersion: 4, reconnectPeriod: 0 });
  client.on('message', (topic, payload) => {
    if (topic === topics.control(ID)) {
      const d = decodeControl('desired', payload);
      if (d.ok && !d.value.config) seen.desired = d.value; // the master's, not ours
    } else if (topic === topics.hello(ID)) {
      const h = decodeControl('hello', payload);
      if (h.ok) { seen.hello = h.value; if (h.value.agent) seen.reports.push(h.value.agent); }
    } else {
      const hb = decodeControl('heartbeat', payload);
      if (hb.ok) { seen.heartbeat = hb.value; if (hb.value.agent) seen.reports.push(hb.value.agent); }
    }
    events.emit('seen');
  });
  await client.subscribeAsync([topics.control(ID), topics.hello(ID), topics.heartbeat(ID)], { qos: 1 });

  await mkdir(data(), { recursive: true });
  const factory = join(dir.path, 'tributary-agent');
  await writeFile(factory, agentScript, { mode: 0o755 });
  const g = await runGuard(['--install', join(data(), 'agent'), factory, 'v1']);
  if (g.code !== 0) throw new Error(g.stderr);
  const config = join(data(), 'agent.json');
  await writeFile(config, JSON.stringify({
    id: ID, master: master.brokerUrl, data: data(), labels: { site: 'plant-1' }, heartbeatMs: 500, logLevel: 'info', replayLog: false,
    updateDeadlineS: 20, updateHealthyMs: 1000, masterKey: join(dir.path, 'master', 'pki', 'signing.pub'),
  }));
  agent = new Supervisor({ id: ID, agentDir: join(data(), 'agent'), factory, config }).start();
  await waitForNodesOnline(master.httpUrl, [ID]);

  await mkdir(join(repoRoot, 'test-output'), { recursive: true });
  const apps = await mkdtemp(join(repoRoot, 'test-output', 'config-'));
  const file = join(apps, 'meter.ts');
  await writeFile(file, APP);
  const r = await tributary(['submit', file, '--master', master.httpUrl, '--param', `output=${join(dir.path, 'meter.jsonl')}`]);
  await rm(apps, { recursive: true, force: true });
  if (r.code !== 0) throw new Error(r.stderr);
  await when('the application running on the agent', () => (seen.heartbeat?.apps.meter?.state === 'running' ? true : undefined));
});

test.after.always(async () => {
  await agent?.stop();
  await client?.endAsync(true);
  await master?.proc.stop();
  await dir?.cleanup();
});

const good = { labels: { site: 'plant-1', ring: 'canary' }, heartbeatMs: 400 };

test.serial('a good configuration: verified, the agent restarts with it on trial (its new label in its hello) and commits once healthy', async (t) => {
  t.like(seen.hello?.agent, { slots: true, config: { version: 'none', state: 'idle' } });
  const target = signed(good);
  await rollOut(target);
  const sw = await agent.waitFor((l) => l.event === 'config-switch', 'config-switch');
  t.is(sw.to, target.sha256);
  const hello = await when('hello with the new label', () => (seen.hello?.labels.ring === 'canary' ? seen.hello : undefined));
  t.deepEqual(hello.labels, { site: 'plant-1', ring: 'canary' });
  t.like(hello.agent?.config, { version: target.sha256, state: 'trial', target: target.sha256 });
  const committed = await when('a committed report', () => seen.reports.find((r) => r.config?.state === 'committed' && r.config.version === target.sha256));
  t.is(committed.config?.reason, 'healthy');
  await agent.waitFor((l) => l.event === 'config-committed', 'config-committed');
  t.deepEqual(await readFile(join(data(), 'agent', 'config.json')), Buffer.from(target.body));
  t.regex(await readFile(join(data(), 'agent', 'config.result'), 'utf8'), new RegExp(`^committed ${target.sha256} healthy`));
  await t.throwsAsync(readFile(join(data(), 'agent', 'config.trial')), undefined, 'no trial left');
});

test.serial('a configuration that makes the application fail (thread isolation with a 1 MB heap) goes back by itself at its deadline and reports rolled-back with the reason', async (t) => {
  const previous = signed(good);
  const bad = signed({ ...good, isolation: 'thread', appHeapMb: 1 });
  const exits = agent.exits.length;
  await rollOut(bad);
  await agent.waitFor((l) => l.event === 'config-switch' && l.to === bad.sha256, 'config-switch to the bad one');
  await agent.waitFor((l) => l.event === 'config-trial' && l.version === bad.sha256, 'the bad one on trial');
  const rolled = await agent.waitFor((l) => l.event === 'config-rolled-back' && l.target === bad.sha256, 'config-rolled-back');
  t.regex(rolled.reason, /health check failed: not healthy by the deadline \(application meter is failed: .*memory limit/);
  const report = await when('a rolled-back report', () => seen.reports.find((r) => r.config?.state === 'rolled-back' && r.config.target === bad.sha256));
  t.is(report.config?.version, previous.sha256, 'back on the previous layer');
  t.regex(report.config?.reason ?? '', /not healthy by the deadline/);
  t.true(agent.exits.length >= exits + 2, 'restarted into the trial, and out of it');
  t.deepEqual(await readFile(join(data(), 'agent', 'config.json')), Buffer.from(previous.body));
  // The same configuration again is not tried again: the report keeps the rollback, no restart.
  const restarts = agent.exits.length;
  await rollOut(bad);
  // The heartbeat that ends the reconcile of that desired state comes within the next three.
  const n = seen.reports.length;
  await when('three more heartbeats', () => (seen.reports.length >= n + 3 ? true : undefined));
  t.like(seen.reports.at(-1)?.config, { version: previous.sha256, state: 'rolled-back', target: bad.sha256 });
  t.is(agent.exits.length, restarts);
});

test.serial('a configuration that sets the id, or whose body was changed after signing, is refused with the reason; the agent goes on as it was', async (t) => {
  const running = signed(good);
  const restarts = agent.exits.length;
  const forbidden = signed({ id: 'dev-2' });
  await rollOut(forbidden);
  const refused = await when('a failed report', () => seen.reports.find((r) => r.config?.state === 'failed' && r.config.target === forbidden.sha256));
  t.like(refused.config, { version: running.sha256 });
  t.regex(refused.config?.reason ?? '', /it sets id, which say who and where the agent is .*: refused/);
  const tampered: DesiredConfig = { ...signed({ heartbeatMs: 600 }), body: Buffer.from(JSON.stringify({ heartbeatMs: 100 })) };
  await rollOut(tampered);
  const log = await agent.waitFor((l) => l.event === 'config-refused' && l.target === tampered.sha256, 'config-refused');
  t.regex(log.reason, /its SHA-256 is [0-9a-f]{64}, not the one the master named/);
  await when('the tampered one reported', () => seen.reports.find((r) => r.config?.target === tampered.sha256));
  t.is(agent.exits.length, restarts, 'no restart');
  t.deepEqual(await readFile(join(data(), 'agent', 'config.json')), Buffer.from(running.body));
});
