import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { cborEncoder } from '../wire/cbor.js';
import { decodeControl } from '../wire/control.js';
import type { AgentUpdateReport, AppAssignment, DesiredAgent, DesiredConfig, NodeDesiredState, NodeEventLoopReport, NodeHeartbeat, NodeHello, ReplayLogReport, StandbyApp } from '../wire/assignment.js';
import type { Logger } from '../log/log.js';
import { connectMqttTransport, type MqttTransport } from '../mqtt/mqtt-transport.js';
import { systemClock, type Clock, type Timer } from '../runtime/wall-clock.js';
import { parseTopic, topics } from '../wire/topics.js';
import type { TransportOptions } from '../wire/transport.js';
import type { AppHost, AppHostOptions, Isolation } from './app-host.js';
import { BundleCache } from './bundle-cache.js';
import { InlineHosting } from './inline-hosting.js';
import { BundleRejected, MasterSigningKey } from './master-key.js';
import { RefusedApp } from './refused-app.js';
import { ThreadApp } from './thread-app.js';
import { StandbyPool } from './standby-pool.js';
import type { MqttConnectSettings } from '../connectors/host-broker.js';
import { ConfigError, ErrorCodes } from '../api/errors.js';

export const TRIBUTARY_VERSION = '0.1.0';

export interface NodeAgentOptions {
  id: string;
  kind: 'worker' | 'agent';
  labels: Record<string, string>;
  slots: number;
  brokerUrl: string;
  heartbeatMs: number;
  /** Heartbeat period while it hosts no application (0 or absent: always heartbeatMs). */
  idleHeartbeatMs?: number;
  dataDir: string;
  logLevel: string;
  log: Logger;
  /** Replay logs for sources hosted here (under dataDir/replay); off: none. */
  replayLog?: { enabled: boolean; quotaBytes: number; policy: 'block' | 'drop-oldest' };
  /** Time for heartbeats and the times the node reports (default: the system clock); tests pass a FakeClock. */
  clock?: Clock;
  /** How applications are hosted: `inline` (the default) or `thread` (one worker thread each). */
  isolation?: Isolation;
  /** Inline hosting: a call that blocks the event loop this long (ms) is reported; 0 = off. */
  watchdogMs?: number;
  /**
   * Who the node is to the broker: its client certificate or id + secret (identity/node-connection.ts); none = anonymous.
   * The MQTT connectors of hosted applications connect with the same (connectors/host-broker.ts).
   */
  credentials?: NodeCredentials;
  /**
   * The broker refused this node after it had been connected (its identity revoked, its
   * credentials no longer valid): logged here; the composition root stops the node and exits
   * non-zero rather than retry forever.
   */
  onRefused?: (err: Error) => void;
  /**
   * The master's Ed25519 public key (PEM file) that bundles must be signed with. Absent:
   * `<dataDir>/identity/master-signing.pub` (enrolment), else trust on first use (master-key.ts).
   */
  masterKeyFile?: string;
  /** Thread isolation: heap cap of each application's thread, MB (worker resourceLimits); 0 = V8's default. */
  appHeapMb?: number;
  /** The version it reports in its hello (default TRIBUTARY_VERSION); agents: their slot's label. */
  version?: string;
  /**
   * Agents: self-update (edge-agent/src/update/updater.ts). `report` goes into every hello and
   * heartbeat; `apply` gets the desired state's `agent` field each time one arrives, `applyConfig`
   * its `config` field (remote configuration, edge-agent/src/update/remote-config.ts).
   */
  update?: { report(): AgentUpdateReport; apply(target: DesiredAgent): void; applyConfig?(target: DesiredConfig): void };
  /**
   * Workers: hold the hot standbys the master names (default true); false saves their memory (a
   * graph inline, an isolate with thread isolation, per application not hosted here) at the cost of
   * cold takeovers.
   */
  standby?: boolean;
}

/** Whether a node is doing its job, for an agent version on trial (self-update). */
export interface NodeHealth {
  ok: boolean;
  reason: string;
}

export type NodeCredentials = Pick<TransportOptions, 'tls' | 'username' | 'password'>;

/**
 * A node of the fabric (cloud worker or edge agent): registers with the master over MQTT, sends
 * heartbeats, and runs the applications the master assigns to it, each in its own worker thread
 * (ThreadApp) or on the node's main thread (InlineApp, the default), as `isolation` says.
 * Desired state comes on the node's retained control topic, so a (re)connecting node converges
 * on what it should run without asking.
 */
export class NodeAgent {
  private transport: MqttTransport | null = null;
  private readonly apps = new Map<string, AppHost>();
  /** Hot standbys (workers only): applications not hosted here, loaded and ready to run. */
  private readonly standbys: StandbyPool | null;
  /** Isolation `inline`: the uncaught-error guard and the event-loop watchdog; null for threads. */
  private readonly inline: InlineHosting | null;
  private readonly bundles: BundleCache;
  private heartbeat: Timer | null = null;
  private reconciling: Promise<void> = Promise.resolve();
  private stopping = false;
  /** The node's credentials now (renewals replace them): its own connection's and its connectors'. */
  private credentials: NodeCredentials | undefined;
  /** New on every process start: tells the master this node lost whatever it ran before. */
  private readonly boot = randomUUID();
  /** Desired states that failed their schema, since start. */
  controlRejected = 0;
  /** A desired state of this run arrived and was applied (health: it knows what it should run). */
  private desiredSeen = false;
  private connected = false;
  /** Bundles refused before evaluation (bundle-cache.ts), by reason, since start. */
  readonly bundleRejected: Record<string, number> = {};
  /** When the last heartbeat went out (the injected clock). */
  private lastBeatAt = -Infinity;
  private readonly masterKey: MasterSigningKey;

  private readonly clock: Clock;

  constructor(private readonly options: NodeAgentOptions) {
    this.credentials = options.credentials;
    this.clock = options.clock ?? systemClock;
    this.bundles = new BundleCache(join(options.dataDir, 'bundles'));
    this.masterKey = new MasterSigningKey({ dataDir: options.dataDir, log: options.log, ...(options.masterKeyFile ? { keyFile: options.masterKeyFile } : {}) });
    this.inline = options.isolation !== 'thread' ? new InlineHosting(options.watchdogMs ?? 1000, options.log) : null;
    // Agents (edge devices) hold no standbys: memory.
    this.standbys = options.kind === 'worker' && options.standby !== false
      ? new StandbyPool(options.log, (s) => this.startStandby(s))
      : null;
  }

  get id(): string {
    return this.options.id;
  }

  async start(): Promise<void> {
    const { id, brokerUrl, log } = this.options;
    const status = topics.status(id);
    // A key file given but unusable is a configuration error: said at start, not at the first bundle.
    if (this.options.masterKeyFile) {
      await this.masterKey.get('').catch((err: Error) => {
        throw new ConfigError(`masterKey ${this.options.masterKeyFile}: ${err.message}`, { cause: err });
      });
    }
    this.inline?.start();
    this.transport = await connectMqttTransport({
      url: brokerUrl,
      clientId: id,
      ...this.credentials,
      onRefused: (err) => this.refused(err),
      log,
      keepaliveSeconds: 2,
      will: { topic: status, payload: 'offline', qos: 1, retain: true },
      birth: { topic: status, payload: 'online', qos: 1, retain: true },
    });
    this.transport.onMessage((topic, payload) => this.onMessage(topic, payload));
    this.connected = true;
    this.transport.onStatus((s) => {
      this.connected = s === 'connected';
      if (s === 'connected') void this.sayHello();
    });
    await this.transport.subscribe(topics.nodeSubscriptions(id), 1);
    await this.sayHello();
    this.heartbeat = this.clock.setInterval(() => this.beat(), this.options.heartbeatMs);
    log.info({ id, kind: this.options.kind, labels: this.options.labels, broker: brokerUrl, isolation: this.options.isolation ?? 'inline' }, `${this.options.kind} started`);
  }

  /** Stops every application and leaves the fabric cleanly (status offline, then disconnect). */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.heartbeat?.cancel();
    await this.reconciling.catch(() => {});
    await Promise.all([...this.apps.values()].map((a) => a.stop()));
    this.apps.clear();
    await this.standbys?.clear();
    this.inline?.stop();
    const t = this.transport;
    if (t) {
      // Not awaited: with the broker gone the acknowledgement never comes. close() flushes pending
      // QoS 1 publishes within its own time limit, so stopping is bounded either way.
      t.publish(topics.status(this.id), 'offline', { qos: 1, retain: true }).catch(() => {});
      await t.close();
    }
    this.options.log.info({ id: this.id }, `${this.options.kind} stopped`);
  }

  /** After a certificate renewal: the next (re)connection presents the new credentials. */
  setCredentials(c: NodeCredentials): void {
    this.credentials = c;
    this.transport?.setCredentials(c);
  }

  private refused(err: Error): void {
    if (this.stopping) return;
    this.options.log.error(
      { event: 'identity-refused', id: this.id, err: err.message },
      `the broker refused ${this.id}: its identity was revoked or its credentials are no longer valid`,
    );
    this.options.onRefused?.(err);
  }

  appStatus(app: string) {
    return this.apps.get(app)?.status;
  }

  /**
   * Healthy = connected, a desired state of this run applied, and every application assigned here
   * running without error with its tasks reporting (an application reaches `running` only once its
   * tasks, and the replay logs of its sources, are open).
   * Called by the agent's updater while a new version is on trial.
   */
  health(): NodeHealth {
    if (!this.connected) return { ok: false, reason: 'not connected to the broker' };
    if (!this.desiredSeen) return { ok: false, reason: 'no desired state from the master yet' };
    for (const [id, a] of this.apps) {
      const s = a.status;
      if (s.state !== 'running') return { ok: false, reason: `application ${id} is ${s.state}${s.error ? `: ${s.error}` : ''}` };
      if (s.tasks.length === 0) return { ok: false, reason: `application ${id} reports no tasks yet` };
    }
    return { ok: true, reason: 'healthy' };
  }

  private async sayHello(): Promise<void> {
    const { kind, labels, slots } = this.options;
    const agent = this.options.update?.report();
    const idle = this.idleHeartbeatMs();
    const hello: NodeHello = {
      kind, labels, slots, version: this.options.version ?? TRIBUTARY_VERSION, now: this.clock.now(), boot: this.boot, ...(agent ? { agent } : {}),
      ...(idle > 0 ? { idleHeartbeatMs: idle } : {}),
    };
    await this.transport?.publish(topics.hello(this.id), cborEncoder.encode(hello), { qos: 1, retain: true }).catch(() => {});
  }

  /** The idle period in force (never shorter than the usual one); 0: none. */
  private idleHeartbeatMs(): number {
    const idle = this.options.idleHeartbeatMs ?? 0;
    return idle > this.options.heartbeatMs ? idle : 0;
  }

  /**
   * The heartbeat timer: every period while the node hosts applications (their reports drive the
   * clocks and the dashboard), every idle period while it hosts none. Changes (a desired state
   * applied, an update's progress) are reported at once whatever the period (reportNow).
   */
  private beat(): void {
    const idle = this.idleHeartbeatMs();
    if (idle > 0 && this.apps.size === 0 && this.clock.now() - this.lastBeatAt < idle) return;
    this.sendHeartbeat();
  }

  private sendHeartbeat(): void {
    this.lastBeatAt = this.clock.now();
    const apps: Record<string, NodeHeartbeat['apps'][string]> = {};
    for (const [id, a] of this.apps) {
      const s = a.status;
      apps[id] = {
        epoch: a.assignment.epoch, state: s.state, tasks: s.tasks, wire: s.wire,
        ...(s.error ? { error: s.error } : {}), ...(s.stalls ? { stalls: s.stalls } : {}),
      };
    }
    const replayLog = this.replayReport();
    const eventLoop: NodeEventLoopReport | undefined = this.inline?.report();
    const agent = this.options.update?.report();
    const hb: NodeHeartbeat = {
      now: this.clock.now(), apps, ...(replayLog ? { replayLog } : {}), ...(eventLoop ? { eventLoop } : {}), controlRejected: this.controlRejected,
      ...(agent ? { agent } : {}),
      bundleRejected: { ...this.bundleRejected },
    };
    this.transport?.publish(topics.heartbeat(this.id), cborEncoder.encode(hb), { qos: 0 }).catch(() => {});
  }

  private replayReport(): ReplayLogReport | undefined {
    const r = this.options.replayLog;
    if (!r?.enabled) return undefined;
    const out = { backlogRecords: 0, diskBytes: 0, quotaBytes: r.quotaBytes, droppedRecords: 0, blocked: false };
    for (const a of this.apps.values()) {
      const s = a.status.replay;
      if (!s) continue;
      out.backlogRecords += s.backlogRecords;
      out.diskBytes += s.diskBytes;
      out.droppedRecords += s.dropped;
      out.blocked ||= s.blocked;
    }
    return out;
  }

  private onMessage(topic: string, payload: Buffer): void {
    const t = parseTopic(topic);
    if (!t) return;
    if (t.kind === 'data' || t.kind === 'credit' || t.kind === 'appClock') {
      this.apps.get(t.appId)?.deliver(topic, payload);
    } else if (t.kind === 'control' && t.nodeId === this.id) {
      const decoded = decodeControl('desired', payload);
      if (!decoded.ok) {
        // Never cast, never applied: counted, logged (rate-limited); what runs stays as it is.
        const n = ++this.controlRejected;
        if (n <= 10 || n % 1000 === 0) this.options.log.warn({ event: 'control-rejected', rejected: n, reason: decoded.reason }, 'desired state rejected: it does not validate');
        return;
      }
      const desired: NodeDesiredState = decoded.value;
      if (desired.boot !== undefined && desired.boot !== this.boot) {
        // Retained from this node's previous run: its epoch is over. The master sends a new one
        // once it has seen this run's hello (no stale start, no frames of a dead epoch).
        this.options.log.info({ event: 'stale-desired-state', boot: desired.boot }, 'desired state of an earlier run of this node ignored: waiting for the master');
        return;
      }
      // Serialised: a burst of control messages is applied in order, one at a time.
      this.reconciling = this.reconciling.then(() => this.reconcile(desired)).catch((err) => {
        this.options.log.error({ err }, 'reconciling desired state failed');
      });
    }
  }

  private async reconcile(desired: NodeDesiredState): Promise<void> {
    if (this.stopping) return;
    if (desired.agent) this.options.update?.apply(desired.agent);
    if (desired.config) this.options.update?.applyConfig?.(desired.config);
    const wanted = new Map(desired.apps.map((a) => [a.app, a]));
    for (const [id, proc] of this.apps) {
      if (!wanted.has(id)) {
        this.options.log.info({ app: id }, 'application no longer assigned here: stopping it');
        this.apps.delete(id);
        await proc.stop();
      }
    }
    for (const a of wanted.values()) {
      const running = this.apps.get(a.app);
      if (!running) {
        if (!(await this.takeOver(a))) await this.startApp(a);
      } else if (running.assignment.version !== a.version || running.assignment.epoch !== a.epoch) {
        if (!(await running.update(a))) {
          this.options.log.info({ app: a.app, version: a.version }, 'assignment changed: restarting the application here');
          this.apps.delete(a.app);
          await running.stop();
          await this.startApp(a);
        }
      }
    }
    await this.standbys?.reconcile(desired.standby ?? [], (app) => this.apps.has(app));
    this.desiredSeen = true;
    this.sendHeartbeat();
  }

  /**
   * Tasks of an application not hosted here arrived (a recovery moved them): a standby of the same
   * submission takes them, loaded (the run starts at once, from the assignment's
   * checkpoint). False: no usable standby, the caller starts the application cold.
   */
  private async takeOver(a: AppAssignment): Promise<boolean> {
    const warm = this.standbys?.take(a);
    if (!warm) return false;
    // Registered first: frames for the application go to it from now on.
    this.apps.set(a.app, warm);
    if (await warm.update(a)) {
      this.options.log.info({ event: 'standby-takeover', app: a.app, epoch: a.epoch, tasks: a.tasks.filter((t) => t.node === this.id).length },
        'standby taking over: the application starts in its loaded host');
      return true;
    }
    this.apps.delete(a.app);
    await warm.stop();
    return false;
  }

  /** Starts a standby for `s` (StandbyPool), as isolated as a run: its bundle fetched and verified first. */
  private async startStandby(s: StandbyApp): Promise<AppHost | null> {
    const a: AppAssignment = { app: s.app, epoch: s.epoch, version: 0, bundle: s.bundle, params: s.params, tasks: [], ...(s.submission !== undefined ? { submission: s.submission } : {}) };
    const bundlePath = await this.bundlePathFor(a, false);
    if (!bundlePath) return null;
    // Its state changes are news for the master only once it runs here (taken over), not as a standby.
    const options: AppHostOptions = { ...this.hostOptions(a, bundlePath), standby: true, onChange: () => {
      if (this.apps.get(s.app) === proc) this.sendHeartbeat();
    } };
    const proc: AppHost = this.inline ? this.inline.host(options) : new ThreadApp(options);
    proc.start();
    return proc;
  }

  /** Sends a heartbeat now (the updater's state changed). */
  reportNow(): void {
    this.sendHeartbeat();
  }

  private async startApp(a: AppAssignment): Promise<void> {
    const bundlePath = await this.bundlePathFor(a);
    if (!bundlePath) return;
    const options = this.hostOptions(a, bundlePath);
    const proc = this.inline ? this.inline.host(options) : new ThreadApp(options);
    this.apps.set(a.app, proc);
    proc.start();
  }

  /**
   * The verified bundle's path on disk (bundle-cache.ts); null: refused or not fetched (logged).
   * A refusal of a hosted application is counted and reported; a standby's is only logged (it
   * is counted once tasks of the application come here).
   */
  private async bundlePathFor(a: AppAssignment, hosted = true): Promise<string | null> {
    try {
      return await this.bundles.get(a.bundle, await this.masterKey.get(a.bundle.url));
    } catch (err) {
      if (err instanceof BundleRejected && hosted) this.refuse(a, err);
      else if (err instanceof BundleRejected) this.options.log.warn({ event: 'standby-bundle-rejected', app: a.app, reason: err.reason }, `standby not started: ${err.message}`);
      else this.options.log.error({ app: a.app, err: (err as Error).message }, 'cannot fetch application bundle');
      return null;
    }
  }

  private hostOptions(a: AppAssignment, bundlePath: string): AppHostOptions {
    const { log } = this.options;
    return {
      assignment: a, bundlePath, nodeId: this.id, labels: this.options.labels, logLevel: this.options.logLevel,
      broker: { url: this.options.brokerUrl, ...this.credentials },
      ...(this.options.appHeapMb ? { heapMb: this.options.appHeapMb } : {}),
      ...(this.options.replayLog?.enabled
        ? { replay: { dir: join(this.options.dataDir, 'replay', a.app), quotaBytes: this.options.replayLog.quotaBytes, policy: this.options.replayLog.policy } }
        : {}),
      publish: (topic, payload, qos, retain) => {
        this.transport?.publish(topic, payload, { qos, retain }).catch((err: Error) => log.warn({ err: err.message, topic }, 'publish failed'));
      },
      log,
      onChange: () => this.sendHeartbeat(),
    };
  }

  /** A bundle failed verification: nothing of it runs; counted, logged, reported failed here. */
  private refuse(a: AppAssignment, err: BundleRejected): void {
    const n = (this.bundleRejected[err.reason] = (this.bundleRejected[err.reason] ?? 0) + 1);
    this.options.log.error({ event: 'bundle-rejected', app: a.app, reason: err.reason, bundle: a.bundle.sha256, url: a.bundle.url, rejected: n },
      `application bundle refused, nothing of it evaluated: ${err.message}`);
    this.apps.set(a.app, new RefusedApp(a, `[${ErrorCodes.BUNDLE_SIGNATURE_INVALID}] ${err.message}`));
  }
}
