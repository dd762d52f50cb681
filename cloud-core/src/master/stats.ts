import { EventEmitter } from 'node:events';
import type { AppManager, AppView } from './app-manager.js';
import type { EventLog } from './events.js';
import { clockJson } from './clock-json.js';
import type { Registry } from './registry.js';
import type { AppStats, EdgeStats, HotKey, LatencyStats, NodeStats, ProcessorStats, Snapshot, TaskStats } from './snapshot.js';

/** A task with this many batches waiting, or its clock this far behind its app's, is lagging. */
const LAG_QUEUED = 8;
const LAG_CLOCK_MS = 30_000;
/** Rates are averaged over about this long: a few heartbeats. */
const RATE_WINDOW_MS = 5_000;
/** Hot keys per processor in a snapshot, and per task. */
const HOT_KEYS = 10;
const TASK_KEYS = 5;

/**
 * Turns the registry's cumulative per-task counters into rates and a dashboard snapshot, once per
 * `intervalMs` and on every registry change. Rates need several samples, so the sampler keeps
 * a few seconds of totals per task; the snapshot is built once per tick and shared by every SSE client
 * (cost does not grow with viewers). It also diffs node and app state into the event log, so
 * neither the registry nor the app manager needs to know about events.
 * Emits 'snapshot' with each new snapshot.
 */
export class Stats extends EventEmitter {
  private readonly points = new Map<string, { at: number; in: number; out: number }[]>();
  private rates = new Map<string, { inRate: number; outRate: number }>();
  private current: Snapshot | null = null;
  private timer: NodeJS.Timeout | null = null;
  private pendingChange: NodeJS.Timeout | null = null;
  private readonly nodeOnline = new Map<string, boolean>();
  private readonly everOnline = new Set<string>();
  private readonly appState = new Map<string, { state: string; epoch: number; error?: string }>();

  constructor(private readonly apps: AppManager, private readonly registry: Registry, private readonly events: EventLog, private readonly intervalMs = 1000) {
    super();
    this.setMaxListeners(0);
  }

  start(): void {
    this.registry.on('change', this.onChange);
    this.timer = setInterval(() => this.tick(true), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    this.registry.off('change', this.onChange);
    if (this.timer) clearInterval(this.timer);
    if (this.pendingChange) clearTimeout(this.pendingChange);
  }

  /** The latest snapshot (built now if none yet). */
  snapshot(): Snapshot {
    return this.current ?? this.tick(false);
  }

  /**
   * Changes come in bursts (a node and its tasks): coalesce them into one push 50 ms later, or
   * later on a big fleet (a snapshot is O(nodes): 10,000 agents registering would otherwise cost
   * 20 full snapshots a second; 1 ms per 10 nodes keeps it to about one).
   */
  private readonly onChange = () => {
    if (this.pendingChange) return;
    this.pendingChange = setTimeout(() => {
      this.pendingChange = null;
      this.tick(false);
    }, Math.max(50, this.registry.size / 10));
  };

  /** Builds a snapshot; `sample` advances the rate window (only the periodic tick does). */
  tick(sample: boolean): Snapshot {
    const now = Date.now();
    if (sample) this.sampleRates(now);
    this.diffEvents();
    const nodes = this.nodeStats();
    const snap: Snapshot = { at: now, apps: this.apps.list().map((a) => this.appStats(a, now)), nodes, fleet: fleetSummary(nodes), events: this.events.recent(50) };
    this.current = snap;
    this.emit('snapshot', snap);
    return snap;
  }

  /**
   * Rates from the counters' own arrival times (the node's lastSeen when its heartbeat came), over
   * a sliding window of RATE_WINDOW_MS: sampling on our 1 s tick alone aliases against 1 s
   * heartbeats (one tick sees two reports, the next none: 200/s, then 0/s).
   */
  private sampleRates(now: number): void {
    const seen = new Set<string>();
    for (const a of this.apps.list()) {
      for (const [key, r] of this.apps.taskReports(a.id)) {
        const k = `${a.id}/${key}`;
        seen.add(k);
        const at = this.registry.get(r.node)?.lastSeen ?? now;
        let pts = this.points.get(k);
        if (!pts) this.points.set(k, (pts = []));
        const last = pts[pts.length - 1];
        // A counter that went down is a restarted task: start its window again.
        if (last && (r.in < last.in || r.out < last.out)) pts.length = 0;
        if (!last || at > last.at || pts.length === 0) pts.push({ at, in: r.in, out: r.out });
        while (pts.length > 2 && pts[pts.length - 1].at - pts[1].at >= RATE_WINDOW_MS) pts.shift();
        const first = pts[0];
        const newest = pts[pts.length - 1];
        const dt = (newest.at - first.at) / 1000;
        const stale = now - newest.at > RATE_WINDOW_MS;
        this.rates.set(k, dt > 0 && !stale ? { inRate: (newest.in - first.in) / dt, outRate: (newest.out - first.out) / dt } : { inRate: 0, outRate: 0 });
      }
    }
    for (const k of this.points.keys()) if (!seen.has(k)) this.points.delete(k);
    for (const k of this.rates.keys()) if (!seen.has(k)) this.rates.delete(k);
  }

  private appStats(a: AppView, now: number): AppStats {
    const reports = this.apps.taskReports(a.id);
    const clock = this.apps.clock(a.id);
    const minClock = clock?.minClock ?? -Infinity;
    const running = a.state === 'running';
    const clocks = [...reports.values()].map((r) => r.inputClock).filter(Number.isFinite);
    const leading = clocks.length ? Math.max(...clocks) : -Infinity;
    const processors: ProcessorStats[] = a.plan.processors.map((p) => {
      const tasks: TaskStats[] = a.tasks.filter((t) => t.processor === p.id).map((t) => {
        const r = reports.get(`${t.processor}.${t.index}`);
        const node = this.registry.get(t.node);
        const rate = this.rates.get(`${a.id}/${t.processor}.${t.index}`) ?? { inRate: 0, outRate: 0 };
        const online = node?.online ?? false;
        const nodeState = node?.apps[a.id]?.state;
        let problem: string | null = null;
        if (running && !online) problem = `node ${t.node} is offline`;
        else if (nodeState === 'failed') problem = node?.apps[a.id]?.error ?? 'failed';
        else if (running && r && r.queued >= LAG_QUEUED) problem = `${r.queued} batches queued`;
        else if (running && r && Number.isFinite(r.inputClock) && leading - r.inputClock > LAG_CLOCK_MS) problem = `clock ${Math.round((leading - r.inputClock) / 1000)} s behind`;
        return {
          index: t.index, node: t.node, kind: node?.kind ?? 'unknown', online,
          in: r?.in ?? 0, out: r?.out ?? 0, late: r?.late ?? 0, rejected: r?.rejected ?? 0, queued: r?.queued ?? 0,
          inputClock: clockJson(r?.inputClock), inRate: rate.inRate, outRate: rate.outRate,
          latencyMs: latencyOf(r?.latencyMs), processingMs: latencyOf(r?.processingMs),
          topKeys: (r?.topKeys ?? []).slice(0, TASK_KEYS).map(([k, c]) => [String(k), Number(c)]),
          clockLaggards: (r?.clockLaggards ?? []).map(([device, newestTs, c]) => ({ device, newestTs, clock: c })), problem,
        };
      });
      const kinds = new Set(tasks.map((t) => t.kind));
      const total = (k: 'in' | 'out' | 'rejected' | 'queued' | 'inRate' | 'outRate') => tasks.reduce((n, t) => n + t[k], 0);
      const meanIn = total('in') / Math.max(1, tasks.length);
      const failing = tasks.find((t) => t.problem);
      const pending = a.pending.find((x) => x.processor === p.id);
      return {
        id: p.id, name: p.name, parallelism: p.parallelism, placement: p.placement,
        runsOn: tasks.length === 0 ? 'unplaced' : kinds.size > 1 ? 'mixed' : kinds.has('agent') ? 'edge' : 'cloud',
        in: total('in'), out: total('out'), rejected: total('rejected'), backlog: total('queued'), inRate: total('inRate'), outRate: total('outRate'),
        skew: meanIn > 0 ? Math.max(...tasks.map((t) => t.in)) / meanIn : 1,
        latencyMs: slowest(tasks.map((t) => t.latencyMs)), processingMs: slowest(tasks.map((t) => t.processingMs)),
        hotKeys: hotKeys(a.tasks.filter((t) => t.processor === p.id).map((t) => ({ index: t.index, node: t.node, keys: reports.get(`${t.processor}.${t.index}`)?.topKeys ?? [] })), total('in')),
        clockLaggards: tasks.flatMap((t) => t.clockLaggards.map((l) => ({ ...l, task: t.index }))).sort((x, y) => x.clock - y.clock).slice(0, 10),
        tasks, problem: failing ? `task ${failing.index}: ${failing.problem}` : pending ? `waiting: ${pending.reason}` : null,
      };
    });
    const byId = new Map(processors.map((p) => [p.id, p]));
    const edges: EdgeStats[] = a.plan.edges.map((e) => ({ ...e, rate: byId.get(e.from)?.outRate ?? 0 }));
    const fed = new Set(a.plan.edges.filter((e) => e.kind === 'data').map((e) => e.to));
    const sources = processors.filter((p) => !fed.has(p.id));
    return {
      id: a.id, state: a.state, epoch: a.epoch, submittedAt: a.submittedAt, error: a.error ?? null,
      minClock: clockJson(minClock), lagMs: Number.isFinite(minClock) ? now - minClock : null,
      throughput: sources.reduce((n, p) => n + p.outRate, 0),
      recordsIn: processors.reduce((n, p) => n + p.in, 0), recordsOut: processors.reduce((n, p) => n + p.out, 0),
      pending: a.pending, processors, edges,
    };
  }

  private nodeStats(): NodeStats[] {
    return this.registry.list().map((n) => {
      const apps: NodeStats['apps'] = {};
      let tasks = 0;
      let backlog = 0;
      for (const [id, r] of Object.entries(n.apps)) {
        apps[id] = { state: r.state, tasks: (r.tasks ?? []).map((t) => `${t.processor}.${t.index}`) };
        for (const t of r.tasks ?? []) {
          tasks++;
          backlog += t.queued;
        }
      }
      const r = n.replayLog;
      const replayLog = r ? { backlogRecords: r.backlogRecords, diskBytes: r.diskBytes, quotaBytes: r.quotaBytes, droppedRecords: r.droppedRecords, blocked: r.blocked } : null;
      return { id: n.id, kind: n.kind, labels: n.labels, version: n.version, online: n.online, lastSeen: n.lastSeen, clockOffsetMs: n.clockOffsetMs, slots: n.slots, tasks, backlog, replayLog, apps };
    });
  }

  private diffEvents(): void {
    for (const n of this.registry.list()) {
      const was = this.nodeOnline.get(n.id);
      if (was === n.online) continue;
      this.nodeOnline.set(n.id, n.online);
      // A node is registered (hello) before it is online: only a node that was online before
      // and went offline is a failure, and only its return a recovery.
      if (n.online) {
        const back = this.everOnline.has(n.id);
        this.everOnline.add(n.id);
        this.events.add(back ? 'node.recovered' : 'node.online', n.id, `${n.kind} ${n.id} ${back ? 'is back online' : 'is online'}`);
      } else if (this.everOnline.has(n.id)) {
        this.events.add('node.offline', n.id, `${n.kind} ${n.id} went offline`);
      }
    }
    for (const a of this.apps.list()) {
      const was = this.appState.get(a.id);
      this.appState.set(a.id, { state: a.state, epoch: a.epoch, error: a.error });
      if (!was) {
        if (a.state === 'running') this.events.add('app.submitted', a.id, `application ${a.id} running (epoch ${a.epoch})`);
        continue;
      }
      if (a.epoch !== was.epoch) this.events.add('app.epoch', a.id, `application ${a.id}: epoch ${was.epoch} -> ${a.epoch}`);
      if (a.error && a.error !== was.error) this.events.add('app.failed', a.id, `application ${a.id} failed: ${a.error}`);
      if (a.state !== was.state && (a.state === 'finished' || a.state === 'killed')) this.events.add(`app.${a.state}`, a.id, `application ${a.id} ${a.state}`);
    }
  }
}

/** A report's percentiles as the snapshot carries them (null when absent or malformed). */
function latencyOf(l: { p50: number; p99: number; max: number; samples?: number } | undefined): LatencyStats | null {
  if (!l || ![l.p50, l.p99, l.max].every(Number.isFinite)) return null;
  return { p50: l.p50, p99: l.p99, max: l.max, samples: l.samples ?? 0 };
}

/** A processor's latency: its slowest task's (percentiles of different tasks do not combine). */
function slowest(ls: (LatencyStats | null)[]): LatencyStats | null {
  const present = ls.filter((l): l is LatencyStats => l !== null);
  if (present.length === 0) return null;
  return {
    p50: Math.max(...present.map((l) => l.p50)), p99: Math.max(...present.map((l) => l.p99)), max: Math.max(...present.map((l) => l.max)),
    samples: present.reduce((n, l) => n + l.samples, 0),
  };
}

/** The hottest keys over a processor's tasks, each with the task that owns it. */
function hotKeys(tasks: { index: number; node: string; keys: readonly (readonly [string, number])[] }[], recordsIn: number): HotKey[] {
  const all = tasks.flatMap((t) => t.keys.map(([key, count]) => ({ key: String(key), count: Number(count), task: t.index, node: t.node, share: recordsIn > 0 ? Math.min(1, Number(count) / recordsIn) : 0 })));
  return all.sort((a, b) => b.count - a.count || (a.key < b.key ? -1 : 1)).slice(0, HOT_KEYS);
}

function fleetSummary(nodes: NodeStats[]): Snapshot['fleet'] {
  const byLabel = new Map<string, { online: number; offline: number }>();
  for (const n of nodes) {
    const keys = Object.entries(n.labels).map(([k, v]) => `${k}=${v}`);
    for (const label of [`kind=${n.kind}`, ...keys]) {
      const c = byLabel.get(label) ?? { online: 0, offline: 0 };
      c[n.online ? 'online' : 'offline']++;
      byLabel.set(label, c);
    }
  }
  return {
    online: nodes.filter((n) => n.online).length, offline: nodes.filter((n) => !n.online).length,
    byLabel: [...byLabel].sort(([a], [b]) => (a < b ? -1 : 1)).map(([label, c]) => ({ label, ...c })),
  };
}
