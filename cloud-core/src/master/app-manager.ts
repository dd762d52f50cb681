import {
  AppError, ErrorCodes, cborEncoder, schedule, sha256, topics,
  type AppAssignment, type Logger, type NodeDesiredState, type AppReport, type TaskPlacement, type TaskReport, type Transport,
} from '@tributary/shared';
import type { AppRecord, MasterStore, PlanJson } from './master-store.js';
import type { NodeView, Registry } from './registry.js';
import { ClockService, type AppClock } from './clock-service.js';

export interface Submission {
  plan: PlanJson;
  params: Record<string, string>;
  bundle: Uint8Array;
}

export interface AppView extends AppRecord {
  /** Processors that are waiting for a node to host them, and why. */
  pending: { processor: number; reason: string }[];
  /** Per node hosting it: what that node reports. */
  nodes: Record<string, { state: string; tasks: number; in: number; out: number; maxQueued: number; wire: Record<string, number>; online: boolean; error?: string }>;
}

/**
 * Applications on the cluster: accepts submissions, places tasks (scheduler), keeps placements
 * current as nodes come and go, and publishes each node's desired state on its retained control
 * topic. App masters are folded in here for now: one place owns an application's life cycle.
 */
export class AppManager {
  private readonly apps = new Map<string, AppRecord>();
  private readonly pending = new Map<string, { processor: number; reason: string }[]>();
  /** Nodes we have told to run something, so a node that loses its last app is told too. */
  private readonly told = new Set<string>();
  private readonly clocks: ClockService;

  constructor(
    private readonly store: MasterStore,
    private readonly registry: Registry,
    private readonly transport: Transport,
    private readonly bundleUrl: (sha: string) => string,
    private readonly log: Logger,
  ) {
    this.clocks = new ClockService(transport, log.child({ component: 'clock' }));
    registry.on('change', () => void this.rescheduleAll());
    registry.on('heartbeat', (node: NodeView) => this.onHeartbeat(node));
  }

  /** Resumes every application the store knows: a restarted master picks up where it was. */
  async load(): Promise<void> {
    for (const app of await this.store.listApps()) {
      this.apps.set(app.id, app);
      if (app.state === 'running') for (const t of app.tasks) this.told.add(t.node);
    }
    await this.rescheduleAll();
  }

  list(): AppView[] {
    return [...this.apps.values()].map((a) => this.view(a));
  }

  get(id: string): AppView | undefined {
    const a = this.apps.get(id);
    return a && this.view(a);
  }

  clock(id: string): AppClock | undefined {
    return this.apps.has(id) ? (this.clocks.get(id) ?? { minClock: -Infinity, at: Date.now(), history: [] }) : undefined;
  }

  /** The latest report of every task of an application, by `processor.index`. */
  taskReports(id: string): Map<string, TaskReport & { node: string }> {
    const out = new Map<string, TaskReport & { node: string }>();
    const app = this.apps.get(id);
    for (const node of new Set(app?.tasks.map((t) => t.node) ?? [])) {
      for (const t of this.reportOf(node, id)?.tasks ?? []) out.set(`${t.processor}.${t.index}`, { ...t, node });
    }
    return out;
  }

  /** What `node` last said about the current run (epoch) of `id`, if anything. */
  private reportOf(node: string, id: string): AppReport | undefined {
    const r = this.registry.get(node)?.apps[id];
    return r && r.epoch === this.apps.get(id)?.epoch ? r : undefined;
  }

  async submit(s: Submission): Promise<AppView> {
    const id = s.plan.app;
    const existing = this.apps.get(id);
    if (existing?.state === 'running') {
      throw new AppError(ErrorCodes.APP_INVALID, `application ${id} is already running; kill it first`);
    }
    const sha = sha256(s.bundle);
    await this.store.putBundle(sha, s.bundle);
    this.clocks.forget(id);
    const app: AppRecord = {
      id, params: s.params, plan: s.plan, bundleSha256: sha, state: 'running',
      epoch: (existing?.epoch ?? 0) + 1, version: 0, tasks: [], submittedAt: Date.now(),
    };
    this.apps.set(id, app);
    await this.place(app);
    this.log.info({ app: id, tasks: app.tasks.length, bundle: sha.slice(0, 12) }, 'application submitted');
    return this.view(app);
  }

  async kill(id: string): Promise<AppView | undefined> {
    const app = this.apps.get(id);
    if (!app) return undefined;
    if (app.state === 'running') {
      app.state = 'killed';
      const nodes = new Set(app.tasks.map((t) => t.node));
      await this.store.putApp(app);
      await Promise.all([...nodes].map((n) => this.publishDesired(n)));
      this.log.info({ app: id }, 'application killed');
    }
    return this.view(app);
  }

  async rescheduleAll(): Promise<void> {
    for (const app of this.apps.values()) if (app.state === 'running') await this.place(app);
  }

  /** (Re)places an application's tasks; publishes to the nodes whose assignment changed. */
  private async place(app: AppRecord): Promise<void> {
    const nodes = this.registry.list();
    const load = new Map<string, number>();
    for (const other of this.apps.values()) {
      if (other !== app && other.state === 'running') for (const t of other.tasks) load.set(t.node, (load.get(t.node) ?? 0) + 1);
    }
    const processors = app.plan.processors.map((p) => ({ id: p.id, parallelism: p.parallelism, placement: p.placement }));
    const result = schedule(processors, nodes, app.tasks, load);
    this.pending.set(app.id, result.pending);
    const changed = result.tasks.length !== app.tasks.length;
    if (changed || app.version === 0) {
      app.tasks = result.tasks;
      app.version++;
      await this.store.putApp(app);
      // Only tasks whose processors are all placed can run correctly; until then nodes wait.
      const nodesOfApp = new Set(app.tasks.map((t) => t.node));
      await Promise.all([...nodesOfApp].map((n) => this.publishDesired(n)));
    }
    for (const p of result.pending) this.log.warn({ app: app.id, processor: p.processor }, `waiting to place: ${p.reason}`);
  }

  private async publishDesired(node: string): Promise<void> {
    const apps: AppAssignment[] = [];
    for (const app of this.apps.values()) {
      if (app.state !== 'running' || (this.pending.get(app.id)?.length ?? 0) > 0) continue;
      if (!app.tasks.some((t) => t.node === node)) continue;
      apps.push({
        app: app.id, epoch: app.epoch, version: app.version, params: app.params, tasks: app.tasks,
        bundle: { sha256: app.bundleSha256, url: this.bundleUrl(app.bundleSha256) },
      });
    }
    if (apps.length === 0 && !this.told.has(node)) return;
    this.told.add(node);
    const desired: NodeDesiredState = { node, apps };
    await this.transport.publish(topics.control(node), cborEncoder.encode(desired), { qos: 1, retain: true });
  }

  private onHeartbeat(node: NodeView): void {
    for (const [id, report] of Object.entries(node.apps)) {
      const app = this.apps.get(id);
      // A report about an earlier run (before a restart or resubmission) is not about this one.
      if (!app || app.state !== 'running' || report.epoch !== app.epoch) continue;
      this.clocks.onReport(id, app.tasks, report.tasks ?? []);
      if (report.state === 'failed' && report.error && app.error !== report.error) {
        app.error = report.error;
        this.log.error({ app: id, node: node.id, error: report.error }, 'application failed on a node');
      }
      const hosts = new Set(app.tasks.map((t) => t.node));
      const all = [...hosts].map((h) => this.reportOf(h, id)?.state);
      if (all.length > 0 && all.every((s) => s === 'finished')) {
        app.state = 'finished';
        void this.store.putApp(app);
        this.log.info({ app: id }, 'application finished: every source ended and every task flushed');
      }
    }
  }

  private view(app: AppRecord): AppView {
    const nodes: AppView['nodes'] = {};
    for (const n of new Set(app.tasks.map((t) => t.node))) {
      const reg = this.registry.get(n);
      const r = this.reportOf(n, app.id);
      const tasks = r?.tasks ?? [];
      nodes[n] = {
        state: r?.state ?? 'starting', tasks: tasks.length, in: sum(tasks, 'in'), out: sum(tasks, 'out'),
        maxQueued: Math.max(0, ...tasks.map((x) => x.maxQueued)), wire: { ...(r?.wire ?? {}) }, online: reg?.online ?? false,
        ...(r?.error ? { error: r.error } : {}),
      };
    }
    return { ...app, pending: this.pending.get(app.id) ?? [], nodes };
  }
}

function sum(tasks: readonly TaskReport[], key: 'in' | 'out'): number {
  return tasks.reduce((n, t) => n + t[key], 0);
}

export type { TaskPlacement };
