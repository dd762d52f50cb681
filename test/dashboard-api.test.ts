import test from 'ava';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { createLogger, type LatencyBuckets, type TaskReport, type Transport } from '@tributary/shared';
import { AdminTokens } from '../cloud-core/src/master/admin-tokens.js';
import { AppManager } from '../cloud-core/src/master/app-manager.js';
import { buildHttpApi, servedRoutes } from '../cloud-core/src/master/http-api.js';
import { DeviceRegistry } from '../cloud-core/src/master/device-registry.js';
import { Pki } from '../cloud-core/src/pki/index.js';
import { LevelMasterStore } from '../cloud-core/src/master/level-master-store.js';
import { Registry } from '../cloud-core/src/master/registry.js';
import { AgentArtefacts } from '../cloud-core/src/master/agent-artefacts.js';
import { RolloutManager } from '../cloud-core/src/master/rollout-manager.js';
import type { AppStats, LatencyStats, ProcessorStats, Snapshot } from '../cloud-core/src/master/snapshot.js';
import { api, startMaster, startNode, until, waitForNodesOnline, type Proc, type RunningMaster } from './helpers/cluster.js';
import { tributary } from './helpers/cli.js';
import { fakeAgent } from './helpers/fake-agent.js';
import { parsePromText, type Sample } from './helpers/prom-text.js';
import { openSse } from './helpers/sse.js';
import { tempDir } from './helpers/tmp.js';

const AGENTS = { 'dev-1': { site: 'plant-1' }, 'dev-2': { site: 'plant-2' } };

test('/openapi.json documents exactly the routes the master serves', async (t) => {
  const dir = await tempDir();
  t.teardown(dir.cleanup);
  const log = createLogger({ level: 'silent' });
  const store = new LevelMasterStore(join(dir.path, 'm.db'));
  await store.open();
  const registry = new Registry(store, 5000, log);
  const transport = { clientId: 'test', connected: true, publish: async () => {}, subscribe: async () => {}, onMessage: () => {}, close: async () => {} } as unknown as Transport;
  const apps = new AppManager(store, registry, transport, (sha) => sha, log);
  const devices = new DeviceRegistry({ store, pki: await Pki.loadOrCreate(join(dir.path, 'pki')), log, certLifetimeMs: 86_400_000, brokers: () => ({}) });
  const tokens = new AdminTokens(store, log);
  await tokens.start('openapi-test-token-0123456789');
  const rollouts = new RolloutManager({ store, registry, artefacts: new AgentArtefacts({}), publicUrl: () => '', publish: async () => {}, log });
  const http: FastifyInstance = await buildHttpApi({ apps, registry, store, log, devices, auth: { tokens }, rollouts });
  t.teardown(async () => {
    await http.close();
    await store.close();
  });
  const res = await http.inject({ method: 'GET', url: '/openapi.json', headers: { authorization: 'Bearer openapi-test-token-0123456789' } });
  t.is(res.statusCode, 200);
  const doc = res.json() as { openapi: string; paths: Record<string, Record<string, unknown>> };
  t.regex(doc.openapi, /^3\./);
  const documented = Object.entries(doc.paths).flatMap(([p, ops]) => Object.keys(ops).filter((k) => k !== 'parameters').map((m) => `${m.toUpperCase()} ${p.replace(/\{(\w+)\}/g, ':$1')}`)).sort();
  t.deepEqual(documented, [...servedRoutes.get(http)!].sort());
});

interface Ctx {
  master: RunningMaster;
  nodes: Map<string, Proc>;
  cleanup: () => Promise<void>;
}
let ctx: Ctx;

test.before(async () => {
  const dir = await tempDir();
  const master = await startMaster(join(dir.path, 'master'));
  const nodes = new Map<string, Proc>();
  nodes.set('w-1', await startNode('worker', 'w-1', master.brokerUrl, dir.path));
  for (const [id, labels] of Object.entries(AGENTS)) nodes.set(id, await startNode('agent', id, master.brokerUrl, dir.path, labels));
  ctx = {
    master, nodes,
    cleanup: async () => {
      await Promise.all([...nodes.values()].map((n) => n.stop()));
      await master.proc.stop();
      await dir.cleanup();
    },
  };
  await waitForNodesOnline(master.httpUrl, [...nodes.keys()]);
});

test.after.always(() => ctx?.cleanup());

const appOf = (s: Snapshot, id = 'plant-monitor'): AppStats | undefined => s.apps.find((a) => a.id === id);
const snap = (data: string) => JSON.parse(data) as Snapshot;

const submit = (httpUrl: string, params: Record<string, string>) =>
  tributary(['submit', 'examples/plant-monitor.ts', '--master', httpUrl, ...Object.entries(params).flatMap(([k, v]) => ['--param', `${k}=${v}`])]);

// Order matters: the tests below count plant-monitor's epochs (1 -> 2 -> 3) and the events they
// leave, and the last one adds a node to the fleet.
test.serial('SSE pushes a snapshot on connect, then live updates; restart bumps the epoch; kill stops it', async (t) => {
  const { httpUrl, brokerUrl } = ctx.master;
  const stream = await openSse(`${httpUrl}/stream`);
  t.teardown(() => stream.close());
  t.is(stream.res.status, 200);
  t.regex(stream.res.headers.get('content-type') ?? '', /^text\/event-stream/);
  const first = await stream.next(() => true, 'the first snapshot');
  t.is(first.event, 'snapshot');
  t.deepEqual(snap(first.data).nodes.map((n) => n.id).sort(), ['dev-1', 'dev-2', 'w-1']);

  // An unbounded (paced) run: the counters move between pushed snapshots.
  const sub = await submit(httpUrl, { topic: 'api/live', intervalMs: '20', windowMs: '1000' });
  t.is(sub.code, 0, sub.stderr);
  const moving = appOf(snap((await stream.next((e) => (appOf(snap(e.data))?.recordsIn ?? 0) > 0, 'a snapshot with records counted')).data))!;
  const later = appOf(snap((await stream.next((e) => (appOf(snap(e.data))?.recordsIn ?? 0) > moving.recordsIn, 'a later snapshot with more records')).data))!;
  t.is(later.state, 'running');
  await stream.next((e) => (appOf(snap(e.data))?.throughput ?? 0) > 0, 'a non-zero throughput');

  // Latency and hot keys: the cloud processor's tasks (fed by channels) are probed for both; the
  // source tasks on the agents for latency only (no hot keys).
  const probed = appOf(snap((await stream.next((e) => {
    const a = appOf(snap(e.data));
    const p = a?.processors[1];
    const latencies = (q: typeof p) => !!q && q.tasks.length > 0 && q.tasks.every((x) => x.latencyMs && x.processingMs);
    return latencies(p) && p!.hotKeys.length > 0 && latencies(a!.processors[0]);
  }, 'latency of the source and cloud processors, hot keys of the cloud processor')).data))!;
  const cloud = probed.processors[1];
  for (const task of [...probed.processors[0].tasks, ...cloud.tasks]) {
    for (const l of [task.latencyMs!, task.processingMs!]) {
      t.true(l.samples > 0, JSON.stringify(l));
      t.true(l.p50 >= 0 && l.p50 <= l.p99 && l.p99 <= l.max, `plausible percentiles: ${JSON.stringify(l)}`);
    }
  }
  t.is(cloud.latencyMs!.p99, Math.max(...cloud.tasks.map((x) => x.latencyMs!.p99)), 'a processor shows its slowest task');
  t.true(probed.processors[0].tasks.every((x) => x.topKeys.length === 0), 'source tasks sample no keys');
  // plant-monitor keys by device (the agent's id) and sensor.
  for (const k of cloud.hotKeys) {
    t.regex(k.key, /^dev-[12]\/(temperature|vibration)$/);
    t.true(k.count > 0 && k.share > 0 && k.share <= 1, JSON.stringify(k));
    t.true(cloud.tasks.some((x) => x.index === k.task && x.node === k.node), `key ${k.key} is owned by one of the processor's tasks`);
  }
  const detail = await until('per-task latency in GET /apps/plant-monitor', async () => {
    const d = await api(httpUrl, '/apps/plant-monitor');
    const tasks = (d.body.tasks as { processor: number; metrics: { latencyMs: LatencyStats | null; topKeys: [string, number][] } | null }[]).filter((x) => x.processor === 1);
    return tasks.length > 0 && tasks.every((x) => x.metrics?.latencyMs) ? tasks : undefined;
  });
  for (const x of detail) t.true(x.metrics!.latencyMs!.p50 <= x.metrics!.latencyMs!.p99);

  // /metrics: the recent-latency gauges are the API's figures. Read the API, scrape, read again:
  // equal reads mean the scrape saw the same snapshot (it changes once a second).
  const same = await until('an API read, a scrape and an API read of one snapshot', async () => {
    const a = await api(httpUrl, '/apps/plant-monitor/processors/1');
    const text = await (await fetch(`${httpUrl}/metrics`)).text();
    const b = await api(httpUrl, '/apps/plant-monitor/processors/1');
    const key = (x: { body: ProcessorStats }) => JSON.stringify([x.body.latencyMs, x.body.processingMs]);
    return a.body.latencyMs && key(a) === key(b) ? { p: a.body as ProcessorStats, text } : undefined;
  });
  const { types, samples } = parsePromText(same.text);
  t.is(types.get('tributary_latency_recent_seconds'), 'gauge');
  const gauge = (kind: string, quantile: string) => samples.find((x) => x.name === 'tributary_latency_recent_seconds' && x.labels.app === 'plant-monitor' && x.labels.processor === same.p.name && x.labels.kind === kind && x.labels.quantile === quantile)?.value;
  for (const [kind, l] of [['event', same.p.latencyMs!], ['processing', same.p.processingMs!]] as const) {
    t.is(gauge(kind, '0.5'), l.p50 / 1000, `${kind} p50`);
    t.is(gauge(kind, '0.99'), l.p99 / 1000, `${kind} p99`);
    t.is(gauge(kind, '1'), l.max / 1000, `${kind} max`);
  }
  for (const name of ['tributary_event_latency_seconds', 'tributary_processing_latency_seconds']) {
    t.is(types.get(name), 'histogram');
    const h = histogramOf(samples, name, 'plant-monitor', same.p.name);
    t.true(h.buckets.length > 2, `${name} has buckets`);
    t.true(h.buckets.every(([, c], i) => i === 0 || c >= h.buckets[i - 1][1]), `${name} buckets are cumulative`);
    t.is(h.buckets.at(-1)![0], Infinity);
    t.is(h.count, h.buckets.at(-1)![1], `${name}: +Inf bucket = _count`);
    // Cumulative since the tasks started, so at least the last interval's samples.
    t.true((h.count ?? 0) >= (name.includes('event') ? same.p.latencyMs! : same.p.processingMs!).samples, `${name} count ${h.count}`);
  }

  const restarted = await api(httpUrl, '/apps/plant-monitor/restart', { method: 'POST' });
  t.is(restarted.status, 200);
  t.is(restarted.body.epoch, 2);
  t.is(restarted.body.state, 'running');
  await stream.next((e) => snap(e.data).events.some((x) => x.kind === 'app.epoch' && x.subject === 'plant-monitor'), 'the epoch change event');
  const killed = await api(httpUrl, '/apps/plant-monitor', { method: 'DELETE' });
  t.is(killed.body.state, 'killed');
  await stream.next((e) => appOf(snap(e.data))?.state === 'killed', 'the killed state pushed');
});

test.serial('a bounded run: /metrics parses, and its counters equal the API once the app finished', async (t) => {
  const { httpUrl, brokerUrl } = ctx.master;
  const stream = await openSse(`${httpUrl}/stream`);
  t.teardown(() => stream.close());
  const sub = await submit(httpUrl, { topic: 'api/windows', count: '60', intervalMs: '50', windowMs: '1000', seed: '3' });
  t.is(sub.code, 0, sub.stderr);
  // Finished or failed: a failure then says why instead of a time-out.
  const done = appOf(snap((await stream.next((e) => appOf(snap(e.data))?.epoch === 3 && ['finished', 'failed'].includes(appOf(snap(e.data))!.state), 'plant-monitor epoch 3 finished')).data))!;
  t.is(done.state, 'finished', done.error ?? '');
  t.true(done.recordsIn > 0);

  const detail = await api(httpUrl, '/apps/plant-monitor');
  const metrics = await fetch(`${httpUrl}/metrics`);
  t.is(metrics.status, 200);
  t.regex(metrics.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  const { types, samples } = parsePromText(await metrics.text());
  t.is(types.get('tributary_records_in_total'), 'counter');
  t.is(types.get('tributary_clock_lag_observed_seconds'), 'histogram');
  for (const p of detail.body.plan.processors as { id: number; name: string }[]) {
    const tasks = (detail.body.tasks as { processor: number; metrics: { in: number; out: number } | null }[]).filter((x) => x.processor === p.id);
    const apiIn = tasks.reduce((n, x) => n + (x.metrics?.in ?? 0), 0);
    const apiOut = tasks.reduce((n, x) => n + (x.metrics?.out ?? 0), 0);
    const prom = (name: string) => samples.find((s) => s.name === name && s.labels.app === 'plant-monitor' && s.labels.processor === p.name)?.value;
    t.true(apiIn > 0, `processor ${p.name} took records in`);
    t.is(prom('tributary_records_in_total'), apiIn, `records in of ${p.name}`);
    t.is(prom('tributary_records_out_total'), apiOut, `records out of ${p.name}`);
    t.is(done.processors.find((x) => x.id === p.id)!.in, apiIn, `the pushed snapshot agrees for ${p.name}`);
  }
  t.is(samples.find((s) => s.name === 'tributary_node_up' && s.labels.node === 'dev-1')?.value, 1);
  t.is(samples.find((s) => s.name === 'tributary_app_running' && s.labels.app === 'plant-monitor')?.labels.state, 'finished');

  // Latency histograms are the sums of the tasks' buckets, as the nodes report them (GET /nodes).
  const nodes = (await api(httpUrl, '/nodes')).body as { apps: Record<string, { epoch: number; tasks: TaskReport[] }> }[];
  const reports = nodes.flatMap((n) => (n.apps['plant-monitor']?.epoch === done.epoch ? n.apps['plant-monitor'].tasks : []));
  // A source task samples both per batch it read in this run (a fresh submission: every batch).
  for (const r of reports.filter((x) => x.processor === 0)) t.is(r.processingBuckets?.count, r.latencyBuckets?.count, `source task ${r.index}: one processing sample per batch read`);
  for (const [name, pick] of [['tributary_event_latency_seconds', (r: TaskReport) => r.latencyBuckets], ['tributary_processing_latency_seconds', (r: TaskReport) => r.processingBuckets]] as const) {
    for (const p of detail.body.plan.processors as { id: number; name: string }[]) {
      const bs = reports.filter((r) => r.processor === p.id).map(pick).filter((b): b is LatencyBuckets => b !== undefined);
      const h = histogramOf(samples, name, 'plant-monitor', p.name);
      // Every processor, the source (on the agents) included.
      t.true(bs.length > 0, `${name}: ${p.name}'s tasks report buckets`);
      t.is(h.count, bs.reduce((n, b) => n + b.count, 0), `${name} _count of ${p.name}`);
      t.true(Math.abs(h.sum! - bs.reduce((n, b) => n + b.sumMs, 0) / 1000) < 1e-6, `${name} _sum of ${p.name}`);
      const le = bs[0].le;
      for (const [i, bound] of le.entries()) {
        const want = bs.reduce((n, b) => n + b.counts.slice(0, i + 1).reduce((x, y) => x + y, 0), 0);
        t.is(h.buckets.find(([x]) => x === bound / 1000)?.[1], want, `${name} le=${bound / 1000} of ${p.name}`);
      }
    }
  }
});

/** One histogram series of a parsed scrape: cumulative buckets by `le`, sum and count. */
function histogramOf(samples: Sample[], name: string, app: string, processor: string) {
  const mine = samples.filter((x) => x.labels.app === app && x.labels.processor === processor);
  return {
    buckets: mine.filter((x) => x.name === `${name}_bucket`).map((x) => [x.labels.le === '+Inf' ? Infinity : Number(x.labels.le), x.value] as [number, number]).sort((a, b) => a[0] - b[0]),
    sum: mine.find((x) => x.name === `${name}_sum`)?.value,
    count: mine.find((x) => x.name === `${name}_count`)?.value,
  };
}

test.serial('plan, metrics, processor, clock and node endpoints describe the application and the fleet', async (t) => {
  const { httpUrl } = ctx.master;
  const plan = await api(httpUrl, '/apps/plant-monitor/plan');
  t.is(plan.status, 200);
  t.is(plan.body.logical.processors.length, 2);
  t.deepEqual(plan.body.physical.filter((x: { processor: number }) => x.processor === 0).map((x: { node: string; kind: string }) => `${x.kind}:${x.node}`).sort(), ['agent:dev-1', 'agent:dev-2']);
  t.deepEqual(plan.body.physical.filter((x: { processor: number }) => x.processor === 1).map((x: { kind: string }) => x.kind), ['worker']);

  const m = await api(httpUrl, '/apps/plant-monitor/metrics');
  t.is(m.status, 200);
  t.deepEqual(m.body.processors.map((p: { runsOn: string }) => p.runsOn), ['edge', 'cloud']);
  t.is(m.body.edges.length, plan.body.logical.edges.length);

  const byName = await api(httpUrl, `/apps/plant-monitor/processors/${encodeURIComponent(m.body.processors[0].name)}`);
  const byId = await api(httpUrl, '/apps/plant-monitor/processors/0');
  t.is(byId.status, 200);
  t.is(byName.body.id, 0);
  t.is(byId.body.tasks.length, 2);
  t.true(byId.body.skew >= 1);

  const clock = await api(httpUrl, '/apps/plant-monitor/clock');
  t.is(clock.body.minClock, 'end');
  t.true(clock.body.history.length > 0);

  const node = await api(httpUrl, '/nodes/dev-1');
  t.is(node.status, 200);
  t.deepEqual(node.body.labels, { site: 'plant-1' });
  t.is(node.body.online, true);
  t.is(typeof node.body.version, 'string');
  t.true(node.body.lastSeen > Date.now() - 60_000);
  t.deepEqual(node.body.apps['plant-monitor'].tasks, ['0.0']);
});

test.serial('errors: 404 names what is unknown, 400 says why a submission is bad', async (t) => {
  const { httpUrl } = ctx.master;
  for (const [method, path] of [['GET', '/apps/nope'], ['GET', '/apps/nope/plan'], ['GET', '/apps/nope/metrics'], ['GET', '/apps/nope/clock'], ['GET', '/apps/nope/processors/0'], ['POST', '/apps/nope/restart'], ['DELETE', '/apps/nope']]) {
    const r = await api(httpUrl, path, { method });
    t.is(r.status, 404, `${method} ${path}`);
    t.is(r.body.error, 'no application named nope', `${method} ${path}`);
  }
  const proc = await api(httpUrl, '/apps/plant-monitor/processors/42');
  t.is(proc.status, 404);
  t.is(proc.body.error, 'application plant-monitor has no processor 42');
  const node = await api(httpUrl, '/nodes/ghost');
  t.is(node.status, 404);
  t.is(node.body.error, 'no node named ghost');

  const post = (body: unknown) => api(httpUrl, '/apps', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const noBundle = await post({ plan: { app: 'ok', processors: [{ id: 0, name: 'a', parallelism: 1, placement: { where: 'cloud' }, source: null, chain: [], lateSink: false }], edges: [] } });
  t.is(noBundle.status, 400);
  t.is(noBundle.body.error, 'bad submission');
  t.true(noBundle.body.details.some((d: string) => /^bundle: /.test(d)), JSON.stringify(noBundle.body));
  const badPlacement = await post({ plan: { app: 'ok', processors: [{ id: 0, name: 'a', parallelism: 0, placement: { where: 'moon' }, source: null, chain: [], lateSink: false }], edges: [] }, bundle: 'eA==' });
  t.is(badPlacement.status, 400);
  t.true(badPlacement.body.details.some((d: string) => d.startsWith('plan.processors.0.parallelism')), JSON.stringify(badPlacement.body));
  t.true(badPlacement.body.details.some((d: string) => d.startsWith('plan.processors.0.placement.where')), JSON.stringify(badPlacement.body));
  const notJson = await api(httpUrl, '/apps', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{' });
  t.is(notJson.status, 400);
});

test.serial('an agent leaving is an event and a failure in /metrics; /events lists the history', async (t) => {
  const { httpUrl } = ctx.master;
  const stream = await openSse(`${httpUrl}/stream`);
  t.teardown(() => stream.close());
  t.is(await ctx.nodes.get('dev-2')!.stop('SIGTERM'), 0);
  const after = snap((await stream.next((e) => snap(e.data).nodes.some((n) => n.id === 'dev-2' && !n.online), 'dev-2 offline')).data);
  t.deepEqual(after.fleet.byLabel.find((l) => l.label === 'site=plant-2'), { label: 'site=plant-2', online: 0, offline: 1 });

  const events = await api(httpUrl, '/events');
  const kinds = (events.body as { kind: string; subject: string }[]).map((e) => `${e.kind} ${e.subject}`);
  for (const k of ['node.online dev-1', 'app.submitted plant-monitor', 'app.epoch plant-monitor', 'app.killed plant-monitor', 'app.finished plant-monitor', 'node.offline dev-2']) t.true(kinds.includes(k), `${k} in ${kinds.join(', ')}`);
  t.false(kinds.some((k) => k.startsWith('node.recovered')), 'no node came back: nothing recovered');
  const since = await api(httpUrl, `/events?since=${events.body.at(-2).seq}`);
  t.is(since.body.length, 1, 'since= returns only newer events');

  const { samples } = parsePromText(await (await fetch(`${httpUrl}/metrics`)).text());
  t.is(samples.find((s) => s.name === 'tributary_failures_total' && s.labels.kind === 'node.offline')?.value, 1);
  t.is(samples.find((s) => s.name === 'tributary_recoveries_total' && s.labels.kind === 'app.epoch')?.value, 2, 'epochs 1 -> 2 -> 3');
  t.is(samples.find((s) => s.name === 'tributary_node_up' && s.labels.node === 'dev-2')?.value, 0);
});

// Last: the fake agent stays registered (and would go offline once it stops heart-beating).
test.serial('a node\'s replay-log report reaches GET /nodes, /nodes/:id, the stream and /metrics, and follows its heartbeats', async (t) => {
  const { httpUrl, brokerUrl } = ctx.master;
  const stream = await openSse(`${httpUrl}/stream`);
  t.teardown(() => stream.close());
  // Real agents may not fill it in yet: a hand-made heartbeat, as bench/dashboard.ts fakes agents.
  let report = { backlogRecords: 12_345, diskBytes: 1_048_576, quotaBytes: 67_108_864, droppedRecords: 7, blocked: true };
  const agent = await fakeAgent(brokerUrl, 'fake-agent', { site: 'plant-9' }, () => ({ now: Date.now(), apps: {}, replayLog: report }));
  t.teardown(() => agent.close());

  const pushed = snap((await stream.next((e) => snap(e.data).nodes.some((n) => n.id === 'fake-agent' && n.replayLog !== null), 'the fake agent\'s replay log in a pushed snapshot')).data);
  t.deepEqual(pushed.nodes.find((n) => n.id === 'fake-agent')!.replayLog, report);
  const one = await api(httpUrl, '/nodes/fake-agent');
  t.is(one.status, 200);
  t.deepEqual(one.body.replayLog, report);
  t.deepEqual(((await api(httpUrl, '/nodes')).body as { id: string; replayLog?: unknown }[]).find((n) => n.id === 'fake-agent')?.replayLog, report);

  const scrape = async () => parsePromText(await (await fetch(`${httpUrl}/metrics`)).text());
  const nodeValue = (s: Sample[], name: string) => s.find((x) => x.name === name && x.labels.node === 'fake-agent')?.value;
  const { types, samples } = await scrape();
  t.is(types.get('tributary_replay_backlog_records'), 'gauge');
  t.is(types.get('tributary_replay_dropped_records_total'), 'counter');
  t.is(nodeValue(samples, 'tributary_replay_backlog_records'), 12_345);
  t.is(nodeValue(samples, 'tributary_replay_disk_bytes'), 1_048_576);
  t.is(nodeValue(samples, 'tributary_replay_quota_bytes'), 67_108_864);
  t.is(nodeValue(samples, 'tributary_replay_dropped_records_total'), 7);
  t.is(nodeValue(samples, 'tributary_replay_blocked'), 1);
  t.is(nodeValue(samples, 'tributary_replay_backlog_records'), one.body.replayLog.backlogRecords, '/metrics agrees with the API');

  // The next heartbeat replaces it: the checkpoint caught up, the source is unblocked.
  report = { ...report, backlogRecords: 0, blocked: false };
  await agent.beat();
  const after = await until('the new replay-log report in GET /nodes/fake-agent', async () => {
    const r = await api(httpUrl, '/nodes/fake-agent');
    return r.body.replayLog?.backlogRecords === 0 ? r.body : undefined;
  });
  t.is(after.replayLog.blocked, false);
  const later = await scrape();
  t.is(nodeValue(later.samples, 'tributary_replay_backlog_records'), 0);
  t.is(nodeValue(later.samples, 'tributary_replay_blocked'), 0);
});
