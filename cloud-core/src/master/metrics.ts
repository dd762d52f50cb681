import { Counter, Gauge, Histogram, Registry as PromRegistry } from 'prom-client';
import type { AppManager } from './app-manager.js';
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
export function createMetrics(deps: { apps: AppManager; registry: Registry; events: EventLog; stats: Stats }): PromRegistry {
  const reg = new PromRegistry();
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

  // Event-time latency: how far behind wall time the min-clock is, observed once per sample.
  // Per-record processing latency is not in the nodes' reports yet (see docs/dashboard.md).
  const lag = new Histogram({
    name: 'tributary_clock_lag_observed_seconds', help: 'Distribution of the clock lag, sampled each second per running application.', labelNames: ['app'] as const, registers: [reg],
    buckets: [0.1, 0.5, 1, 2, 5, 10, 30, 60, 300, 3600],
  });
  deps.stats.on('snapshot', (s: import('./snapshot.js').Snapshot) => {
    for (const a of s.apps) if (a.state === 'running' && a.lagMs !== null) lag.observe({ app: a.id }, a.lagMs / 1000);
  });
  return reg;
}
