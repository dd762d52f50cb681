import { appTopicAllowed } from './app-topic-policy.js';
import type { KeyObject } from 'node:crypto';
import {
  AppError, ErrorCodes, cborEncoder, decodeControl, signBundleDigest, topics, type PlanLimits,
  type AppAssignment, type DesiredAgent, type DesiredConfig, type AppStalls, type CheckpointReport, type Logger, type NodeDesiredState, type AppReport, type TaskPlacement, type TaskReport, type Transport,
} from '@tributary/shared';
import type { CheckpointStore } from './checkpoint-store.js';
import type { AppRecord, CandidateBundle, MasterStore, PlanJson } from './master-store.js';
import type { NodeView, Registry } from './registry.js';
import { ClockService, type AppClock } from './clock-service.js';
import { schedule } from './scheduler.js';
import { canonicalJson, checkBundle } from './bundle-check.js';
import { PlacementIndex } from './node-tasks.js';
import { onlineWorkers, standbyFor, standbySignature } from './standby.js';

/** Desired states published between two yields of the event loop (the HTTP API keeps answering). */
const PUBLISH_CHUNK = 256;

export interface Submission {
  /**
   * The plan the client computed, if it sent one: the master plans the bundle itself and refuses
   * the submission (TRIB_ERR_PLAN_MISMATCH) when the two differ. The master's plan is what runs.
   */
  plan?: PlanJson;
  params: Record<string, string>;
  bundle: Uint8Array;
}

export interface AppView extends AppRecord {
  /** Processors that are waiting for a node to host them, and why. */
  pending: { processor: number; reason: string }[];
  /** Per node hosting it: what that node reports. */
  nodes: Record<string, { state: string; tasks: number; in: number; out: number; maxQueued: number; wire: Record<string, number>; online: boolean; error?: string;
    /** Event-loop stalls the node's watchdog blamed on the application there (inline hosting). */
    stalls?: AppStalls }>;
}

/**
 * Applications on the cluster: accepts submissions, places tasks (scheduler), keeps placements
 * current as nodes come and go, and publishes each node's desired state on its retained control
 * topic. App masters are folded in here for now: one place owns an application's life cycle.
 */
export class AppManager {
  private readonly apps = new Map<string, AppRecord>();
  /** Checkpoint reports that failed their schema, since start. */
  controlRejected = 0;
  private readonly pending = new Map<string, { processor: number; reason: string }[]>();
  /** Nodes we have told to run something, so a node that loses its last app is told too. */
  private readonly told = new Set<string>();
  private readonly clocks: ClockService;
  /** Per application, checkpoint times in progress -> tasks that reported them. */
  private readonly inProgress = new Map<string, Map<number, Set<string>>>();
  /** The `agent` field of a node's desired state (fleet rollouts, RolloutManager.agentFor); set by Master. */
  agentSource: ((node: string) => Promise<DesiredAgent | undefined>) | null = null;
  /** The `config` field of an agent's desired state (fleet rollouts, RolloutManager.configFor); set by Master. */
  configSource: ((node: string) => DesiredConfig | undefined) | null = null;
  /** Serialises recoveries and placements: one change of an application at a time. */
  private changing: Promise<void> = Promise.resolve();
  /** A rescheduleAll is queued and has not started: registry changes coalesce into it. */
  private rescheduleQueued = false;
  /** Per application's `tasks` array, its index by node and processor (built once per placement). */
  private readonly indexes = new WeakMap<readonly TaskPlacement[], PlacementIndex>();
  /** What each node was last sent (its desired state minus versions): an unchanged one is not sent again. */
  private readonly sent = new Map<string, string>();
  /** The states of the checkpoint the current recovery restores (read once for all its nodes). */
  private statesCache: { key: string; states: Promise<Map<string, Uint8Array>> } | null = null;

  constructor(
    private readonly store: MasterStore,
    private readonly registry: Registry,
    private readonly transport: Transport,
    /** Where `node` downloads bundle `sha` (the node is named so the master can count the bytes it sends each device). */
    private readonly bundleUrl: (sha: string, node: string) => string,
    private readonly log: Logger,
    private readonly exactlyOnce: { checkpointIntervalMs: number; checkpoints: CheckpointStore | null } = { checkpointIntervalMs: 0, checkpoints: null },
    /** The master's bundle-signing key (none: bundles go out unsigned, and nodes refuse them), and the limits of planning a bundle. */
    private readonly security: { signingKey?: KeyObject; planLimits?: PlanLimits } = {},
  ) {
    this.clocks = new ClockService(transport, log.child({ component: 'clock' }));
    // A burst of registrations (a fleet coming online) is one rescheduling, not one per node.
    registry.on('change', () => {
      if (this.rescheduleQueued) return;
      this.rescheduleQueued = true;
      void this.serially(() => {
        this.rescheduleQueued = false;
        return this.rescheduleAll();
      });
    });
    registry.on('heartbeat', (node: NodeView) => this.onHeartbeat(node));
    // A worker that goes offline lost its tasks: they move. An agent offline may only have lost
    // its link (it keeps recording, store-and-forward): its tasks wait, unless it restarted.
    registry.on('offline', (node: NodeView, why: string) => {
      if (node.kind === 'worker') this.recoverAppsOn(node.id, `worker ${node.id} went offline (${why})`);
    });
    registry.on('restarted', (node: NodeView) => {
      this.recoverAppsOn(node.id, `${node.kind} ${node.id} restarted`);
      // It ignores desired states of its previous run: it needs one for this run, recovery or not.
      void this.serially(() => this.publishDesired(node.id));
    });
  }

  private serially(fn: () => Promise<void>): Promise<void> {
    this.changing = this.changing.then(fn).catch((err: Error) => this.log.error({ err }, 'application change failed'));
    return this.changing;
  }

  /**
   * Resumes every application the store knows: a restarted master picks up where it was. What
   * was in flight while it was down is unknown, so each running application recovers from its
   * latest complete checkpoint (a new epoch fences anything left from before).
   */
  async load(): Promise<void> {
    for (const app of await this.store.listApps()) {
      // Stored before bundles were signed (or under another key): signed now, from the stored digest.
      const key = this.security.signingKey;
      if (key) {
        const signature = signBundleDigest(key, app.bundleSha256);
        if (app.bundleSignature !== signature) {
          app.bundleSignature = signature;
          await this.store.putApp(app);
        }
      }
      this.apps.set(app.id, app);
      if (app.state === 'running') for (const t of app.tasks) this.told.add(t.node);
    }
    for (const app of this.apps.values()) {
      if (app.state === 'running') await this.serially(() => this.recover(app, 'master restarted'));
    }
    await this.serially(() => this.rescheduleAll());
  }

  /** Recovers every running application with tasks on `node`. */
  private recoverAppsOn(node: string, reason: string): void {
    for (const app of this.apps.values()) {
      if (app.state === 'running' && this.indexOf(app).hosts(node)) void this.serially(() => this.recover(app, reason));
    }
  }

  /**
   * Gearpump's recovery: a new epoch (frames of the old one are fenced off), lost cloud tasks move
   * to surviving workers, every task restarts with its state from the latest complete checkpoint,
   * and sources replay their logs from that checkpoint's time.
   */
  private async recover(app: AppRecord, reason: string): Promise<void> {
    if (app.state !== 'running') return;
    app.epoch++;
    app.recoveries = (app.recoveries ?? 0) + 1;
    app.recovery = { at: Date.now(), reason };
    app.firstEpoch ??= app.epoch - 1;
    app.version++;
    this.inProgress.delete(app.id);
    this.log.warn({ app: app.id, epoch: app.epoch, checkpoint: app.checkpoint ?? null, reason }, 'recovering application');
    await this.place(app, true);
  }

  /** A task's snapshot arrived; when every task has reported time t, checkpoint t is complete. */
  async onCheckpoint(payload: Buffer): Promise<void> {
    const decoded = decodeControl('checkpoint', payload);
    if (!decoded.ok) {
      const n = ++this.controlRejected;
      if (n <= 10 || n % 1000 === 0) this.log.warn({ rejected: n, reason: decoded.reason }, 'control message rejected');
      return;
    }
    const r: CheckpointReport = decoded.value;
    const app = this.apps.get(r.app);
    const store = this.exactlyOnce.checkpoints;
    if (!app || !store || app.state !== 'running' || r.epoch !== app.epoch || r.t <= (app.checkpoint ?? -Infinity)) return;
    const task = `${r.processor}.${r.index}`;
    await store.put(app.id, r.t, task, r.state ?? null);
    let byTime = this.inProgress.get(app.id);
    if (!byTime) this.inProgress.set(app.id, (byTime = new Map()));
    const reported = byTime.get(r.t) ?? new Set<string>();
    byTime.set(r.t, reported.add(task));
    if (reported.size < app.tasks.length || !app.tasks.every((t) => reported.has(`${t.processor}.${t.index}`))) return;
    if (app.epoch !== r.epoch || r.t <= (app.checkpoint ?? -Infinity)) return;
    app.checkpoint = r.t;
    for (const t of byTime.keys()) if (t <= r.t) byTime.delete(t);
    await this.store.putApp(app);
    await store.dropBefore(app.id, r.t);
    this.clocks.setCheckpoint(app.id, app.epoch, r.t);
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

  /**
   * A new run of an application. The plan comes from the bundle (planned in a worker thread with
   * a heap cap and a time limit, bundle-planner.ts), never from the client: a client plan that
   * differs is refused, so what is scheduled is what the nodes will evaluate. The bundle is
   * stored and signed (Ed25519 over its digest) before anything is placed.
   */
  async submit(s: Submission): Promise<AppView> {
    const checked = await checkBundle(s.bundle, s.params, s.plan, this.security, this.log);
    const { plan, sha256: sha, planMs } = checked;
    const id = plan.app;
    const existing = this.apps.get(id);
    if (existing?.state === 'running') {
      throw new AppError(ErrorCodes.APP_INVALID, `application ${id} is already running; kill it first`);
    }
    await this.store.putBundle(sha, s.bundle);
    this.clocks.forget(id);
    this.inProgress.delete(id);
    await this.exactlyOnce.checkpoints?.dropBefore(id, Infinity);
    const epoch = (existing?.epoch ?? 0) + 1;
    const app: AppRecord = {
      id, params: s.params, plan, bundleSha256: sha, ...(checked.signature ? { bundleSignature: checked.signature } : {}), appTopics: checked.appTopics, state: 'running',
      epoch, firstEpoch: epoch, version: 0, tasks: [], submittedAt: Date.now(), checkpoint: null, recoveries: 0,
    };
    this.apps.set(id, app);
    await this.place(app);
    this.log.info({ app: id, tasks: app.tasks.length, bundle: sha.slice(0, 12), planMs }, 'application submitted');
    return this.view(app);
  }

  async kill(id: string): Promise<AppView | undefined> {
    const app = this.apps.get(id);
    if (!app) return undefined;
    if (app.state === 'running') {
      app.state = 'killed';
      // Workers holding a standby of it are told too (they end it).
      const nodes = new Set([...app.tasks.map((t) => t.node), ...onlineWorkers(this.registry.list())]);
      await this.store.putApp(app);
      await this.publishAll(nodes);
      this.log.info({ app: id }, 'application killed');
    }
    return this.view(app);
  }

  async rescheduleAll(): Promise<void> {
    for (const app of this.apps.values()) if (app.state === 'running') await this.place(app);
    // A worker that joined hosts nothing yet: it still gets its standbys (unchanged states are not re-sent).
    await this.publishAll(onlineWorkers(this.registry.list()));
  }

  /** (Re)places an application's tasks; publishes to the nodes whose assignment changed. */
  private async place(app: AppRecord, force = false): Promise<void> {
    const nodes = this.registry.list();
    const before = new Set(app.tasks.map((t) => t.node));
    const moved = this.moveOffDeadWorkers(app, nodes);
    const load = new Map<string, number>();
    for (const other of this.apps.values()) {
      if (other !== app && other.state === 'running') for (const t of other.tasks) load.set(t.node, (load.get(t.node) ?? 0) + 1);
    }
    const processors = app.plan.processors.map((p) => ({ id: p.id, parallelism: p.parallelism, placement: p.placement }));
    const result = schedule(processors, nodes, app.tasks, load);
    this.pending.set(app.id, result.pending);
    const changed = result.tasks.length !== app.tasks.length || moved;
    if (changed || app.version === 0 || force) {
      app.tasks = result.tasks;
      if (!force) app.version++;
      await this.store.putApp(app);
      // Only tasks whose processors are all placed can run correctly; until then nodes wait.
      // Nodes that lost their tasks are told too (their retained desired state must not keep them).
      // Every online worker too: its standbys follow the application (standby.ts).
      const nodesOfApp = new Set([...before, ...app.tasks.map((t) => t.node), ...onlineWorkers(nodes)]);
      await this.publishAll(nodesOfApp);
    }
    for (const p of result.pending) this.log.warn({ app: app.id, processor: p.processor }, `waiting to place: ${p.reason}`);
  }

  /**
   * Cloud tasks on workers that went offline move to online workers, keeping their index (and so
   * their keys and their checkpointed state). Edge tasks stay: they wait for their device.
   */
  private moveOffDeadWorkers(app: AppRecord, nodes: readonly NodeView[]): boolean {
    const byId = new Map(nodes.map((n) => [n.id, n]));
    const alive = nodes.filter((n) => n.kind === 'worker' && n.online);
    if (alive.length === 0) return false;
    const load = new Map<string, number>();
    for (const t of app.tasks) load.set(t.node, (load.get(t.node) ?? 0) + 1);
    let moved = false;
    app.tasks = app.tasks.map((t) => {
      const n = byId.get(t.node);
      if (!n || n.kind !== 'worker' || n.online) return t;
      const target = alive.reduce((best, w) => ((load.get(w.id) ?? 0) - w.slots < (load.get(best.id) ?? 0) - best.slots ? w : best));
      load.set(target.id, (load.get(target.id) ?? 0) + 1);
      moved = true;
      return { ...t, node: target.id };
    });
    return moved;
  }

  /** Publishes `node`'s desired state again, in turn with placements (rollouts changed its `agent`). */
  publishNode(node: string): Promise<void> {
    return this.serially(() => this.publishDesired(node));
  }

  /**
   * Checks a new bundle of running application `id` for an application rollout and stores it:
   * planned by the master with the application's params like a submission, and refused unless its
   * plan has the same shape (processors, their parallelism and placement, edges), so that nodes on
   * the old and the new bundle can run one application together while the rollout goes on.
   */
  async prepareCandidate(id: string, bundle: Uint8Array): Promise<Omit<CandidateBundle, 'rollout' | 'nodes'> & { bytes: number }> {
    const app = this.apps.get(id);
    if (!app || app.state !== 'running') throw new AppError(ErrorCodes.ROLLOUT_INVALID, `no running application ${id}: submit it first (tributary submit)`);
    const checked = await checkBundle(bundle, app.params, undefined, this.security, this.log);
    if (checked.plan.app !== id) throw new AppError(ErrorCodes.ROLLOUT_INVALID, `the bundle is application ${checked.plan.app}, not ${id}`);
    if (canonicalJson(shapeOf(checked.plan)) !== canonicalJson(shapeOf(app.plan))) {
      throw new AppError(ErrorCodes.ROLLOUT_INVALID, `the new bundle of ${id} changes the application's shape (processors, parallelism, placement or edges): a rollout needs the same shape; kill and submit it instead`);
    }
    await this.store.putBundle(checked.sha256, bundle);
    return { bundleSha256: checked.sha256, ...(checked.signature ? { bundleSignature: checked.signature } : {}), plan: checked.plan, appTopics: checked.appTopics, bytes: bundle.byteLength };
  }

  /**
   * The nodes of application `id` that run `candidate` (null: none, every node back on the
   * application's bundle). When that changes, the application recovers in a new epoch from its
   * latest complete checkpoint, each node on its bundle: exactly-once holds across the switch, as
   * across any recovery. Resolves to the epoch in force afterwards. Called by RolloutManager.
   */
  runCandidate(id: string, candidate: Omit<CandidateBundle, 'nodes'> | null, nodes: readonly string[], reason: string): Promise<number> {
    let epoch = 0;
    return this.serially(async () => {
      const app = this.apps.get(id);
      if (!app) return;
      const next: CandidateBundle | undefined = candidate && nodes.length > 0 ? { ...candidate, nodes: [...nodes].sort() } : undefined;
      const key = (c: CandidateBundle | undefined) => (c ? `${c.bundleSha256}:${c.nodes.join(',')}` : '');
      if (key(next) !== key(app.candidate)) {
        if (next) app.candidate = next;
        else delete app.candidate;
        // An application that is over restarts nothing: only the record says which bundle is whose.
        if (app.state === 'running') await this.recover(app, reason);
        else await this.store.putApp(app);
      }
      epoch = app.epoch;
    }).then(() => epoch);
  }

  /** An application rollout reached every node: its bundle is the application's from now on (nothing restarts). */
  promoteCandidate(id: string, sha256: string): Promise<void> {
    return this.serially(async () => {
      const app = this.apps.get(id);
      const c = app?.candidate;
      if (!app || !c || c.bundleSha256 !== sha256) return;
      app.bundleSha256 = c.bundleSha256;
      app.plan = c.plan;
      app.appTopics = c.appTopics;
      if (c.bundleSignature) app.bundleSignature = c.bundleSignature;
      else delete app.bundleSignature;
      delete app.candidate;
      await this.store.putApp(app);
      this.log.info({ app: id, bundle: sha256.slice(0, 12) }, 'application rollout complete: the new bundle is the application\'s');
    });
  }

  /** The bundle (sha256) `node` runs (or ran, once the application is over) of application `id`; undefined when it hosts none of it. */
  bundleFor(id: string, node: string): string | undefined {
    const app = this.apps.get(id);
    if (!app || !this.indexOf(app).hosts(node)) return undefined;
    return bundleOf(app, node).sha256;
  }

  /** The bundle (sha256) of application `id` on every node the current rollout has not reached. */
  baseBundleOf(id: string): string | undefined {
    return this.apps.get(id)?.bundleSha256;
  }

  /** Nodes hosting tasks of running application `id`. */
  hostsOf(id: string): string[] {
    const app = this.apps.get(id);
    return app && app.state === 'running' ? [...new Set(app.tasks.map((t) => t.node))] : [];
  }

  /** The index of `app`'s current placement (cached per `tasks` array, which place() replaces). */
  private indexOf(app: AppRecord): PlacementIndex {
    let ix = this.indexes.get(app.tasks);
    if (!ix) this.indexes.set(app.tasks, (ix = new PlacementIndex(app.plan, app.tasks)));
    return ix;
  }

  /** Publishes the desired state of each of `nodes`, a chunk at a time, yielding in between. */
  private async publishAll(nodes: Iterable<string>): Promise<void> {
    const list = [...nodes];
    for (let i = 0; i < list.length; i += PUBLISH_CHUNK) {
      if (i > 0) await new Promise((r) => setImmediate(r));
      await Promise.all(list.slice(i, i + PUBLISH_CHUNK).map((n) => this.publishDesired(n)));
    }
  }

  /**
   * Publishes `node`'s desired state (retained): per application it runs there, its own tasks and
   * the routes they need (PlacementIndex.forNode), not the whole placement. Skipped when the node
   * was already sent the same (an agent joining an edge application changes nobody else's part).
   */
  private async publishDesired(node: string): Promise<void> {
    const apps: AppAssignment[] = [];
    for (const app of this.apps.values()) {
      if (app.state !== 'running' || (this.pending.get(app.id)?.length ?? 0) > 0) continue;
      const ix = this.indexOf(app);
      if (!ix.hosts(node)) continue;
      const part = ix.forNode(node);
      const b = bundleOf(app, node);
      apps.push({
        app: app.id, epoch: app.epoch, version: app.version, params: app.params, ...part,
        bundle: { sha256: b.sha256, url: this.bundleUrl(b.sha256, node), ...(b.signature ? { signature: b.signature } : {}) },
        submission: app.submittedAt,
        ...(await this.checkpointFor(app, node, part.tasks)),
      });
    }
    const agent = await this.agentSource?.(node);
    const config = this.configSource?.(node);
    const standby = standbyFor(this.registry.get(node), this.apps.values(), (app) => this.indexOf(app).hosts(node), (app) => {
      const b = bundleOf(app, node);
      return { sha256: b.sha256, url: this.bundleUrl(b.sha256, node), ...(b.signature ? { signature: b.signature } : {}) };
    });
    if (apps.length === 0 && !agent && !config && standby.length === 0 && !this.told.has(node)) return;
    this.told.add(node);
    const boot = this.registry.get(node)?.boot;
    const signature = `${boot ?? ''}|${agent ? JSON.stringify(agent) : ''}|${config?.sha256 ?? ''}|${apps.map((a) => `${a.app}:${a.bundle.sha256}:${a.epoch}:${a.submission}:${a.checkpoint?.restoreFrom}:${JSON.stringify(a.taskCounts ?? {})}:${a.tasks.map((t) => `${t.processor}.${t.index}@${t.node}`).join(',')}`).join(';')}|${standbySignature(standby)}`;
    if (this.sent.get(node) === signature) return;
    const desired: NodeDesiredState = { node, apps, ...(boot ? { boot } : {}), ...(agent ? { agent } : {}), ...(config ? { config } : {}), ...(standby.length > 0 ? { standby } : {}) };
    await this.transport.publish(topics.control(node), cborEncoder.encode(desired), { qos: 1, retain: true });
    this.sent.set(node, signature);
  }

  /** The checkpoint part of `node`'s assignment: interval, and on recovery the states of its tasks. */
  private async checkpointFor(app: AppRecord, node: string, tasks: readonly TaskPlacement[]): Promise<Pick<AppAssignment, 'checkpoint'>> {
    const interval = this.exactlyOnce.checkpointIntervalMs;
    if (!(interval > 0) || !this.exactlyOnce.checkpoints) return {};
    const recovery = app.epoch !== (app.firstEpoch ?? app.epoch);
    const restoreFrom = app.checkpoint ?? null;
    const states: Record<string, Uint8Array> = {};
    if (recovery && restoreFrom !== null) {
      // One read of the checkpoint for every node of a recovery, not one per node.
      const key = `${app.id}@${app.epoch}@${restoreFrom}`;
      if (this.statesCache?.key !== key) this.statesCache = { key, states: this.exactlyOnce.checkpoints.states(app.id, restoreFrom) };
      const all = await this.statesCache.states;
      for (const t of tasks) {
        const s = t.node === node ? all.get(`${t.processor}.${t.index}`) : undefined;
        if (s) states[String(t.processor * 65_536 + t.index)] = s;
      }
    }
    return { checkpoint: { intervalMs: interval, recovery, restoreFrom, states } };
  }

  private onHeartbeat(node: NodeView): void {
    for (const [id, report] of Object.entries(node.apps)) {
      const app = this.apps.get(id);
      // A report about an earlier run (before a restart or resubmission) is not about this one.
      if (!app || app.state !== 'running' || report.epoch !== app.epoch) continue;
      this.clocks.onReport(id, app.tasks, report.tasks ?? []);
      // Frames lost on the wire in this epoch: replay from the checkpoint (the AckRequest idea).
      if ((report.wire?.gaps ?? 0) > 0) {
        void this.serially(() => (app.epoch === report.epoch ? this.recover(app, `frames lost on ${node.id}`) : Promise.resolve()));
        continue;
      }
      if (report.state === 'failed' && report.error && app.error !== report.error) {
        app.error = report.error;
        this.log.error({ app: id, node: node.id, error: report.error }, 'application failed on a node');
      }
      // Only a node's 'finished' can finish the application: the pass over its hosts runs then,
      // not on every heartbeat (O(tasks) per heartbeat is O(nodes × tasks) per second on a fleet).
      if (report.state !== 'finished') continue;
      const hosts = new Set(app.tasks.map((t) => t.node));
      const all = [...hosts].map((h) => this.reportOf(h, id)?.state);
      if (all.length > 0 && all.every((s) => s === 'finished')) {
        app.state = 'finished';
        void this.store.putApp(app);
        this.log.info({ app: id }, 'application finished: every source ended and every task flushed');
        // Workers holding it warm end their standby (its hosts keep their finished run, as before).
        void this.serially(() => this.publishAll(onlineWorkers(this.registry.list()).filter((w) => !this.indexOf(app).hosts(w))));
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
        ...(r?.error ? { error: r.error } : {}), ...(r?.stalls ? { stalls: r.stalls } : {}),
      };
    }
    return { ...app, pending: this.pending.get(app.id) ?? [], nodes };
  }

  /** The broker's application-topic rule for node `nodeId` (app-topic-policy.ts). */
  mayUseAppTopic(nodeId: string, access: 'read' | 'write', topicOrFilter: string): boolean {
    return appTopicAllowed(this.apps.values(), nodeId, access, topicOrFilter);
  }
}

/** The bundle `node` runs: the rollout's candidate on the nodes it reached, else the application's. */
function bundleOf(app: AppRecord, node: string): { sha256: string; signature?: string } {
  const c = app.candidate;
  if (c?.nodes.includes(node)) return { sha256: c.bundleSha256, ...(c.bundleSignature ? { signature: c.bundleSignature } : {}) };
  return { sha256: app.bundleSha256, ...(app.bundleSignature ? { signature: app.bundleSignature } : {}) };
}

/** What must not change between two bundles of one application for their nodes to run it together. */
function shapeOf(plan: PlanJson): unknown {
  return { processors: plan.processors.map(({ chain: _chain, ...p }) => p), edges: plan.edges };
}

function sum(tasks: readonly TaskReport[], key: 'in' | 'out'): number {
  return tasks.reduce((n, t) => n + t[key], 0);
}

export type { TaskPlacement };
