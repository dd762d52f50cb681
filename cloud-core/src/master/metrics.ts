import { Counter, Gauge, Histogram, Registry as PromRegistry, type Metric } from 'prom-client';
import type { LatencyBuckets, TaskReport } from '@tributary/shared';
import type { BrokerStats } from '../broker/index.js';
import type { AppManager } from './app-manager.js';
import type { DeviceRegistry } from './device-registry.js';
import type { EventKind, EventLog } from './events.js';
import type { Registry } from './registry.js';
import type { Stats } from './stats.js';

/**
 * Prometheus metrics of the master, in its own prom-client registry (not the global one, so two
 * masters in one process — tests — never share series). Totals are not incremented here: the
 * nodes own the counters and report them in heartbeats, so each scrape sets every series from
 * the latest reports (`collect`). That keeps /metrics equal to the REST API by construction.
 * Counters can go down when a task restarts; Prometheus' rate() treats that as a counter reset.
 */
/** The master's embedded broker, when it runs one (none with an external broker). */
export interface BrokerStatsSource {
  stats(): BrokerStats;
}

export function createMetrics(deps: { apps: AppManager; registry: Registry; events: EventLog; stats: Stats; broker?: BrokerStatsSource; devices?: Pick<DeviceRegistry, 'refusedCounts' | 'stateCounts'>; rollouts?: { outcomes: Record<string, number> }; traffic?: { total: number } }): PromRegistry {
  const reg = new PromRegistry();
  const devices = deps.devices;
  if (devices) {
    new Counter({
      name: 'tributary_enrolment_refused_total', help: 'Enrolments and certificate renewals the master refused, by reason: unknown, expired, reused (token), revoked, csr, cert, proof.',
      labelNames: ['reason'] as const, registers: [reg],
      collect() {
        this.reset();
        for (const [reason, n] of devices.refusedCounts()) this.inc({ reason }, n);
      },
    });
    new Gauge({
      name: 'tributary_devices', help: 'Devices in the master\'s registry by state: pending (token not used yet), expired (token unused and expired), enrolled, revoked.',
      labelNames: ['state'] as const, registers: [reg],
      collect() {
        this.reset();
        for (const [state, n] of Object.entries(devices.stateCounts())) this.set({ state }, n);
      },
    });
  }
  const perTask = (name: string, help: string, pick: (r: { in: number; out: number; late: number; rejected: number }) => number) =>
    new Counter({
      name, help, labelNames: ['app', 'processor'] as const, registers: [reg],
      collect() {
        this.reset();
        for (const a of deps.apps.list()) {
          const names = new Map(a.plan.processors.map((p) => [p.id, p.name]));
          for (const r of deps.apps.taskReports(a.id).values()) this.inc({ app: a.id, processor: names.get(r.processor) ?? String(r.processor) }, pick(r));
        }
      },
    });
  perTask('tributary_records_in_total', 'Records taken in by the tasks of a processor, as their nodes report.', (r) => r.in);
  perTask('tributary_records_out_total', 'Records emitted by the tasks of a processor.', (r) => r.out);
  perTask('tributary_records_late_total', 'Records that arrived behind the clock (late-data output).', (r) => r.late);
  perTask('tributary_frames_rejected_total', 'Frames a processor\'s tasks rejected (bad, fenced or duplicate).', (r) => r.rejected);

  new Counter({
    name: 'tributary_control_rejected_total', help: 'Control messages (hello, heartbeat, checkpoint report) that failed their schema and were dropped.', registers: [reg],
    collect() {
      this.reset();
      this.inc(deps.registry.controlRejected + deps.apps.controlRejected);
    },
  });
  const rollouts = deps.rollouts;
  if (rollouts) {
    new Counter({
      name: 'tributary_rollout_steps_total', help: 'Device steps of fleet rollouts that ended, by outcome (succeeded, failed, timed-out, rolled-back, cancelled, superseded).',
      labelNames: ['outcome'] as const, registers: [reg],
      collect() {
        this.reset();
        for (const [outcome, n] of Object.entries(rollouts.outcomes)) this.inc({ outcome }, n);
      },
    });
  }
  const traffic = deps.traffic;
  if (traffic) {
    new Counter({
      name: 'tributary_device_sent_bytes_total', help: 'Bytes the master sent devices: agent binaries and application bundles they downloaded, remote configurations in their desired states.',
      registers: [reg],
      collect() {
        this.reset();
        this.inc(traffic.total);
      },
    });
  }
  new Counter({
    name: 'tributary_bundle_rejected_total', help: 'Application bundles a node refused before evaluating them (reason: unsigned, signature, sha256, no-key), as nodes report.',
    labelNames: ['node', 'reason'] as const, registers: [reg],
    collect() {
      this.reset();
      for (const n of deps.registry.list()) for (const [reason, count] of Object.entries(n.bundleRejected ?? {})) this.inc({ node: n.id, reason }, count);
    },
  });
  // The embedded broker's refusals by reason (broker-limits.ts RefusalReason: limits, authentication,
  // TLS, topic ACL; every reason of stats().refused is exported), absent with an external broker.
  const broker = deps.broker;
  if (broker) {
    new Counter({
      name: 'tributary_broker_refused_total', help: 'What the embedded broker refused: packet_size (connection closed), publish_rate (publish dropped), connections (CONNACK 3), auth (CONNECT refused: anonymous, bad credentials, unknown or revoked identity, foreign client id), tls (handshake failed or client certificate not from the fabric CA), acl_publish (publish dropped by the topic ACL), acl_subscribe (SUBACK 0x80).',
      labelNames: ['reason'] as const, registers: [reg],
      collect() {
        this.reset();
        for (const [reason, n] of Object.entries(broker.stats().refused)) this.inc({ reason }, n);
      },
    });
    new Gauge({
      name: 'tributary_broker_clients', help: 'Clients connected to the embedded broker.', registers: [reg],
      collect() {
        this.set(broker.stats().clients);
      },
    });
  }
  new Gauge({
    name: 'tributary_backlog_batches', help: 'Batches waiting in the inboxes of a processor\'s tasks.', labelNames: ['app', 'processor'] as const, registers: [reg],
    collect() {
      this.reset();
      for (const a of deps.stats.snapshot().apps) for (const p of a.processors) this.set({ app: a.id, processor: p.name }, p.backlog);
    },
  });
  new Gauge({
    name: 'tributary_throughput_records_per_second', help: 'Records per second out of a processor over the last sampling interval.', labelNames: ['app', 'processor'] as const, registers: [reg],
    collect() {
      this.reset();
      for (const a of deps.stats.snapshot().apps) for (const p of a.processors) this.set({ app: a.id, processor: p.name }, p.outRate);
    },
  });
  new Gauge({
    name: 'tributary_clock_lag_seconds', help: 'Wall time minus the application min-clock (absent before the first input and after the end).', labelNames: ['app'] as const, registers: [reg],
    collect() {
      this.reset();
      for (const a of deps.apps.list()) {
        const c = deps.apps.clock(a.id)?.minClock;
        if (a.state === 'running' && c !== undefined && Number.isFinite(c)) this.set({ app: a.id }, (Date.now() - c) / 1000);
      }
    },
  });
  new Gauge({
    name: 'tributary_app_running', help: '1 while an application runs, else 0.', labelNames: ['app', 'state'] as const, registers: [reg],
    collect() {
      this.reset();
      for (const a of deps.apps.list()) this.set({ app: a.id, state: a.state }, a.state === 'running' ? 1 : 0);
    },
  });
  new Gauge({
    name: 'tributary_node_up', help: '1 if a worker or agent is online, else 0.', labelNames: ['node', 'kind'] as const, registers: [reg],
    collect() {
      this.reset();
      for (const n of deps.registry.list()) this.set({ node: n.id, kind: n.kind }, n.online ? 1 : 0);
    },
  });
  new Gauge({
    name: 'tributary_node_wire', help: 'Wire counters a node reports per application (frames in/out, rejected, fenced, duplicates, gaps).', labelNames: ['node', 'app', 'counter'] as const, registers: [reg],
    collect() {
      this.reset();
      for (const n of deps.registry.list()) for (const [app, r] of Object.entries(n.apps)) for (const [k, v] of Object.entries(r.wire ?? {})) this.set({ node: n.id, app, counter: k }, v);
    },
  });
  const eventCounter = (name: string, help: string, kinds: EventKind[]) =>
    new Counter({
      name, help, labelNames: ['kind'] as const, registers: [reg],
      collect() {
        this.reset();
        for (const k of kinds) this.inc({ kind: k }, deps.events.counts.get(k) ?? 0);
      },
    });
  eventCounter('tributary_failures_total', 'Failures the master saw: nodes going offline, applications failing.', ['node.offline', 'app.failed']);
  eventCounter('tributary_recoveries_total', 'Recoveries: nodes back online, new epochs.', ['node.recovered', 'app.epoch']);

  // Per-task latency, sampled once per batch by the tasks (sources from the moment they read a
  // batch). Histograms: the tasks' cumulative bucket counts, summed per processor, so
  // histogram_quantile() and rate() work; the gauge: the snapshot's recent percentiles.
  const latencyHistogram = (name: string, help: string, pick: (r: TaskReport) => LatencyBuckets | undefined) =>
    registerPresetHistogram(reg, name, help, () => {
      const out: PresetSeries[] = [];
      for (const a of deps.apps.list()) {
        const names = new Map(a.plan.processors.map((p) => [p.id, p.name]));
        const perProcessor = new Map<number, LatencyBuckets[]>();
        for (const r of deps.apps.taskReports(a.id).values()) {
          const b = pick(r);
          if (b) perProcessor.set(r.processor, [...(perProcessor.get(r.processor) ?? []), b]);
        }
        for (const [p, bs] of perProcessor) out.push({ labels: { app: a.id, processor: names.get(p) ?? String(p) }, ...sumBuckets(bs) });
      }
      return out;
    });
  latencyHistogram('tributary_event_latency_seconds', 'Event-time latency of a processor\'s tasks: wall clock when a batch is processed minus its last record\'s event time, one sample per batch, since the tasks started.', (r) => r.latencyBuckets);
  latencyHistogram('tributary_processing_latency_seconds', 'Processing latency of a processor\'s tasks: a batch\'s wait in the inbox plus its processing and I/O, one sample per batch, since the tasks started.', (r) => r.processingBuckets);
  new Gauge({
    name: 'tributary_latency_recent_seconds', help: 'The slowest task\'s latency percentiles (quantile 1 = max) over its node\'s last report interval (~1 s); kind: event (event time) or processing. As GET /apps/{id}/metrics.',
    labelNames: ['app', 'processor', 'kind', 'quantile'] as const, registers: [reg],
    collect() {
      this.reset();
      for (const a of deps.stats.snapshot().apps) {
        for (const p of a.processors) {
          for (const [kind, l] of [['event', p.latencyMs], ['processing', p.processingMs]] as const) {
            if (!l) continue;
            for (const [quantile, v] of [['0.5', l.p50], ['0.99', l.p99], ['1', l.max]] as const) this.set({ app: a.id, processor: p.name, kind, quantile }, v / 1000);
          }
        }
      }
    },
  });

  // Replay logs per node (agents hosting sources report them in their heartbeats).
  const replayGauge = (name: string, help: string, pick: (r: NonNullable<ReturnType<Registry['list']>[number]['replayLog']>) => number) =>
    new Gauge({
      name, help, labelNames: ['node'] as const, registers: [reg],
      collect() {
        this.reset();
        for (const n of deps.registry.list()) if (n.replayLog) this.set({ node: n.id }, pick(n.replayLog));
      },
    });
  replayGauge('tributary_replay_backlog_records', 'Records a node\'s replay logs keep that the applications have not checkpointed past.', (r) => r.backlogRecords);
  replayGauge('tributary_replay_disk_bytes', 'Bytes a node\'s replay logs take on disk.', (r) => r.diskBytes);
  replayGauge('tributary_replay_quota_bytes', 'A node\'s disk quota for replay logs (0: none).', (r) => r.quotaBytes);
  replayGauge('tributary_replay_blocked', '1 while a source on the node is blocked by the replay-log quota policy block.', (r) => (r.blocked ? 1 : 0));
  new Counter({
    name: 'tributary_replay_dropped_records_total', help: 'Records a node\'s replay logs dropped under the quota policy drop-oldest, as the node reports (since it started).', labelNames: ['node'] as const, registers: [reg],
    collect() {
      this.reset();
      for (const n of deps.registry.list()) if (n.replayLog) this.inc({ node: n.id }, n.replayLog.droppedRecords);
    },
  });

  // Clock lag (how far behind wall time the min-clock is), observed once per snapshot.
  const lag = new Histogram({
    name: 'tributary_clock_lag_observed_seconds', help: 'Distribution of the clock lag, sampled each second per running application.', labelNames: ['app'] as const, registers: [reg],
    buckets: [0.1, 0.5, 1, 2, 5, 10, 30, 60, 300, 3600],
  });
  deps.stats.on('snapshot', (s: import('./snapshot.js').Snapshot) => {
    for (const a of s.apps) if (a.state === 'running' && a.lagMs !== null) lag.observe({ app: a.id }, a.lagMs / 1000);
  });
  return reg;
}

/** Upper bounds (ms) of the latency histograms: the runtime's (shared/src/runtime/latency-histogram.ts). */
const LATENCY_LE_MS = [0.1, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000, 30_000, 60_000, 300_000];

interface PresetSeries {
  labels: Record<string, string>;
  /** Samples per LATENCY_LE_MS bucket (not cumulative), plus the overflow. */
  counts: number[];
  sumMs: number;
  count: number;
}

/**
 * Sums the tasks' bucket counts. A task that reports other bounds (another version) is re-binned:
 * each of its buckets goes into the first of ours whose bound is not below its own, so a sample
 * is never counted under a bound smaller than its true value.
 */
function sumBuckets(bs: readonly LatencyBuckets[]): Omit<PresetSeries, 'labels'> {
  const counts: number[] = new Array<number>(LATENCY_LE_MS.length + 1).fill(0);
  let sumMs = 0;
  let count = 0;
  for (const b of bs) {
    if (!Array.isArray(b.le) || !Array.isArray(b.counts) || b.counts.length !== b.le.length + 1) continue;
    b.counts.forEach((c, i) => {
      const le = i < b.le.length ? b.le[i] : Infinity;
      const j = LATENCY_LE_MS.findIndex((x) => x >= le);
      counts[j === -1 ? LATENCY_LE_MS.length : j] += c;
    });
    sumMs += b.sumMs;
    count += b.count;
  }
  return { counts, sumMs, count };
}

/**
 * A Prometheus histogram whose buckets are set from outside at scrape time. prom-client's
 * Histogram can only observe(); here the nodes already did the observing, so this is a minimal
 * metric object prom-client's registry can format (get() in its MetricObject shape).
 */
function registerPresetHistogram(reg: PromRegistry, name: string, help: string, collect: () => PresetSeries[]): void {
  const metric = {
    name, help, type: 'histogram', aggregator: 'sum',
    reset() {},
    get() {
      const values: { metricName: string; labels: Record<string, string | number>; value: number }[] = [];
      for (const s of collect()) {
        let cumulative = 0;
        s.counts.forEach((c, i) => {
          cumulative += c;
          values.push({ metricName: `${name}_bucket`, labels: { ...s.labels, le: i < LATENCY_LE_MS.length ? LATENCY_LE_MS[i] / 1000 : '+Inf' }, value: cumulative });
        });
        values.push({ metricName: `${name}_sum`, labels: s.labels, value: s.sumMs / 1000 });
        // The +Inf bucket and _count must agree whatever a node reported.
        values.push({ metricName: `${name}_count`, labels: s.labels, value: cumulative });
      }
      return { name, help, type: 'histogram', aggregator: 'sum', values };
    },
  };
  reg.registerMetric(metric as unknown as Metric);
}
