import { createHash, randomUUID, type KeyObject } from 'node:crypto';
import { ErrorCodes, TributaryError, configSigningPayload, signPayload, type DesiredAgent, type DesiredConfig, type Logger } from '@tributary/shared';
import type { CandidateBundle, MasterStore } from './master-store.js';
import type { NodeView, Registry } from './registry.js';
import type { AgentArtefacts } from './agent-artefacts.js';
import type { AppManager } from './app-manager.js';
import { forNode, type DeviceTraffic } from './device-traffic.js';
import { observe, type RolloutApps } from './rollout-observe.js';
import { describeTarget, isTerminal, planWaves, tally, type DeviceStep, type RolloutRecord, type RolloutRequest, type RolloutSpec, type StepState } from './rollout-types.js';

export interface RolloutManagerDeps {
  store: MasterStore;
  registry: Registry;
  artefacts: AgentArtefacts;
  /** The master's public URL: agents download `<url>/agent/<version>/linux-<arch>`. */
  publicUrl: () => string;
  /** Publishes a node's desired state again (AppManager.publishNode), after its `agent` changed. */
  publish: (node: string) => Promise<void>;
  log: Logger;
  /** How often steps are evaluated (ms, default 250). */
  tickMs?: number;
  /** Wall clock (ms); tests pass their own to reach step timeouts without waiting. */
  now?: () => number;
  /** The applications (application rollouts); absent: only agent and config rollouts. */
  apps?: Pick<AppManager, 'prepareCandidate' | 'runCandidate' | 'promoteCandidate'> & RolloutApps;
  /** Signs remote configurations (Ed25519, the PKI's key); absent: no config rollouts. */
  signingKey?: KeyObject;
  /** Bytes sent per device (each step's share). */
  traffic?: DeviceTraffic;
}

/** The settings a remote configuration may not set: who and where the agent is, and whose key it trusts (the agent refuses them too, edge-agent/src/update/remote-config.ts). */
const FIXED_CONFIG_KEYS = ['id', 'data', 'master', 'enrolToken', 'token', 'masterKey', 'config'];

const VERSION = /^[0-9A-Za-z][0-9A-Za-z._-]{0,63}$/;

/**
 * Fleet rollouts (issue 16) of agent versions, application bundles and agent configurations: the canary first, then growing waves, each started
 * only while every device updated so far is online on the new version; past the failure threshold
 * the rollout aborts and every updated device is asked back to the version it ran before. A device
 * step ends succeeded (it reports the version committed), failed (its agent says why: refused
 * download, crash loop, health check), timed out, rolled back, cancelled or superseded. A newer
 * rollout of the same target (the agent, the configuration, one application) supersedes a running
 * one, so nothing wedges. Rollouts are stored (MasterStore) and resumed by a restarted master.
 * What a device should run reaches it in its desired state: the `agent` and `config` fields
 * (AppManager asks agentFor() and configFor()), and for applications the bundle of each node
 * (AppManager.runCandidate: a recovery in a new epoch, so exactly-once holds across the switch).
 * What each kind reports and counts as healthy: rollout-observe.ts. Created by Master; driven by a
 * timer and heartbeats.
 */
export class RolloutManager {
  private readonly rollouts = new Map<string, RolloutRecord>();
  /** `<target>\0<node>` -> the version its desired state names (the newest rollout that set one wins). */
  private desired = new Map<string, string>();
  /** Signed remote configurations by SHA-256 (the bodies of config rollouts). */
  private readonly configs = new Map<string, DesiredConfig>();
  /** Terminal device steps by outcome since this master started (Prometheus). */
  readonly outcomes: Record<string, number> = {};
  /** Registry time of the last change of each agent's update report (a failure must be newer than its step). */
  private readonly reportChangedAt = new Map<string, { key: string; at: number }>();
  /** Application rollouts, per node of a step in progress: since when it has been seen running its part in that application's epoch. */
  private readonly runningSince = new Map<string, { run: string; since: number }>();
  private timer: NodeJS.Timeout | null = null;
  private ticking: Promise<void> = Promise.resolve();

  private readonly now: () => number;

  constructor(private readonly d: RolloutManagerDeps) {
    this.now = d.now ?? Date.now;
    d.registry.on('heartbeat', (n: NodeView) => this.noteReport(n));
  }

  async load(): Promise<void> {
    for (const r of await this.d.store.listRollouts()) {
      this.rollouts.set(r.id, r);
      if (r.kind === 'config' && r.config !== undefined) this.keepConfig(r.config);
    }
    this.desired = this.computeDesired();
    const active = [...this.rollouts.values()].filter((r) => r.state === 'running' || r.state === 'aborting');
    if (active.length) this.d.log.info({ rollouts: active.map((r) => r.id) }, 'resuming rollouts');
    this.timer = setInterval(() => void this.tick(), this.d.tickMs ?? 250);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  list(): RolloutRecord[] {
    return [...this.rollouts.values()].sort((a, b) => b.createdAt - a.createdAt);
  }

  get(id: string): RolloutRecord | undefined {
    return this.rollouts.get(id);
  }

  /** The `agent` field of `node`'s desired state; undefined when no rollout names a version for it. */
  async agentFor(node: string): Promise<DesiredAgent | undefined> {
    const version = this.desired.get(`agent\0${node}`);
    if (!version) return undefined;
    const arch = this.d.registry.get(node)?.agent?.arch ?? 'x64';
    const a = await this.d.artefacts.get(version, arch);
    if (!a) return undefined;
    return { version, url: forNode(`${this.d.publicUrl()}/agent/${version}/linux-${arch}`, node), sha256: a.sha256, signature: a.signature };
  }

  /** The `config` field of `node`'s desired state; undefined when no config rollout names one for it. */
  configFor(node: string): DesiredConfig | undefined {
    const version = this.desired.get(`config\0${node}`);
    return version ? this.configs.get(version) : undefined;
  }

  /** Starts a rollout (POST /rollouts): checks it, plans its waves, supersedes the running one of the same target. */
  async create(req: RolloutRequest | (RolloutSpec & { kind: 'agent' })): Promise<RolloutRecord> {
    const bad = (msg: string) => new TributaryError(ErrorCodes.ROLLOUT_INVALID, msg);
    if (req.canary < 0 || req.waves.base < 1 || req.waves.factor < 1) throw bad('--canary >= 0, --waves <base >= 1>,<factor >= 1>');
    if (!(req.maxFailuresPercent >= 0 && req.maxFailuresPercent <= 100)) throw bad('--max-failures: a percentage, 0-100');
    if (!(req.stepTimeoutMs >= 1000)) throw bad('--step-timeout: at least 1s');
    const { spec, nodes } = await this.target(req);
    const labelled = nodes.filter((n) => Object.entries(req.selector).every(([k, v]) => n.labels[k] === v));
    if (labelled.length === 0) throw bad(`no ${spec.kind === 'app' ? `node hosting ${spec.app}` : 'agent'} matches the selector ${JSON.stringify(req.selector)}`);
    // Edge devices first (the canary is a device), cloud workers last.
    const ordered = labelled.sort((a, b) => (a.kind === b.kind ? (a.id < b.id ? -1 : a.id > b.id ? 1 : 0) : a.kind === 'agent' ? -1 : 1)).map((n) => n.id);
    const plan = planWaves(ordered, spec.canary, spec.waves.base, spec.waves.factor, true);
    const r: RolloutRecord = {
      ...spec, id: `r-${this.now().toString(36)}-${randomUUID().slice(0, 6)}`, createdAt: this.now(), state: 'running', plan, wave: -1,
      steps: Object.fromEntries(plan.flatMap((ids, wave) => ids.map((node) => [node, { node, wave, state: 'pending' as StepState }]))),
    };
    await this.serially(async () => {
      for (const old of this.rollouts.values()) {
        if (old.kind !== r.kind || old.app !== r.app || (old.state !== 'running' && old.state !== 'aborting')) continue;
        old.state = 'superseded';
        old.reason = `superseded by ${r.id}`;
        old.endedAt = this.now();
        for (const s of Object.values(old.steps)) if (!isTerminal(s.state)) this.end(s, 'superseded', `superseded by rollout ${r.id}`);
        await this.d.store.putRollout(old);
      }
      this.rollouts.set(r.id, r);
      this.d.log.info({ rollout: r.id, kind: r.kind, app: r.app, version: r.version, waves: plan.map((w) => w.length) }, `rollout started: ${describeTarget(r)}`);
      await this.advance(r);
      await this.d.store.putRollout(r);
    });
    await this.republishChanged();
    return r;
  }

  /** What a request rolls out, checked, and the nodes it may reach (before the selector). */
  private async target(req: RolloutRequest | (RolloutSpec & { kind: 'agent' })): Promise<{ spec: RolloutSpec; nodes: NodeView[] }> {
    const bad = (msg: string) => new TributaryError(ErrorCodes.ROLLOUT_INVALID, msg);
    const policy = { selector: req.selector, canary: req.canary, waves: req.waves, maxFailuresPercent: req.maxFailuresPercent, stepTimeoutMs: req.stepTimeoutMs };
    const agents = () => this.d.registry.list().filter((n) => n.kind === 'agent');
    if (req.kind === 'agent') {
      if (!VERSION.test(req.version)) throw bad(`version ${req.version}: 1-64 letters, digits, . _ -`);
      if (!(await this.d.artefacts.get(req.version, 'x64')) && !(await this.d.artefacts.get(req.version, 'arm64'))) {
        throw bad(`the master has no signed agent binary ${req.version} (<agent dir>/${req.version}/tributary-agent-linux-<arch>, and <data>/pki/signing.key)`);
      }
      return { spec: { ...policy, kind: 'agent', version: req.version }, nodes: agents() };
    }
    if (req.kind === 'config') {
      if (!this.d.signingKey) throw bad('this master has no signing key: agents could not verify a configuration');
      const fixed = Object.keys(req.config).filter((k) => FIXED_CONFIG_KEYS.includes(k));
      if (fixed.length) throw bad(`a remote configuration may not set ${fixed.join(', ')} (who and where the agent is)`);
      const text = JSON.stringify(req.config);
      if (Buffer.byteLength(text) > 65_536) throw bad('a remote configuration is at most 64 KiB');
      const version = this.keepConfig(text).sha256;
      return { spec: { ...policy, kind: 'config', version, config: text }, nodes: agents() };
    }
    const apps = this.d.apps;
    if (!apps) throw bad('application rollouts are not available on this master');
    const c = await apps.prepareCandidate(req.app, req.bundle);
    if (c.bundleSha256 === apps.baseBundleOf(req.app)) throw bad(`${req.app} runs this bundle already`);
    const hosts = new Set(apps.hostsOf(req.app));
    return {
      spec: { ...policy, kind: 'app', app: req.app, version: c.bundleSha256, bundle: { sha256: c.bundleSha256, ...(c.bundleSignature ? { signature: c.bundleSignature } : {}), plan: c.plan, ...(c.appTopics ? { appTopics: c.appTopics } : {}), bytes: c.bytes } },
      nodes: this.d.registry.list().filter((n) => hosts.has(n.id)),
    };
  }

  /** Signs a configuration's text and keeps it for configFor(). */
  private keepConfig(text: string): DesiredConfig {
    const body = Buffer.from(text, 'utf8');
    const sha256 = createHash('sha256').update(body).digest('hex');
    let c = this.configs.get(sha256);
    if (!c && this.d.signingKey) this.configs.set(sha256, (c = { sha256, body, signature: signPayload(this.d.signingKey, configSigningPayload(sha256)) }));
    return c ?? { sha256, body, signature: '' };
  }

  /** Evaluates every active rollout (timer, heartbeats); serialised. */
  tick(): Promise<void> {
    return this.serially(async () => {
      for (const r of this.rollouts.values()) {
        if (r.state !== 'running' && r.state !== 'aborting') continue;
        // A record of a few thousand steps: compared as JSON to store it only when it changed.
        const before = JSON.stringify(r);
        this.evaluate(r);
        if (r.state === 'running') await this.advance(r);
        if (r.state === 'aborting' && Object.values(r.steps).every((s) => isTerminal(s.state))) {
          r.state = 'aborted';
          r.endedAt = this.now();
          this.d.log.warn({ rollout: r.id, reason: r.reason }, 'rollout aborted; updated devices rolled back');
        }
        if (JSON.stringify(r) !== before) await this.d.store.putRollout(r);
      }
    }).then(() => this.republishChanged());
  }

  private serially(fn: () => Promise<void>): Promise<void> {
    this.ticking = this.ticking.then(fn).catch((err: Error) => this.d.log.error({ err }, 'rollout evaluation failed'));
    return this.ticking;
  }

  /** Updates the steps in progress from what their devices report. */
  private evaluate(r: RolloutRecord): void {
    const now = this.now();
    const short = (v: string | undefined) => (v && r.kind !== 'agent' ? v.slice(0, 12) : v);
    for (const s of Object.values(r.steps)) {
      if (s.state !== 'updating' && s.state !== 'rolling-back') continue;
      const fresh = (this.reportChangedAt.get(s.node)?.at ?? 0) >= (s.startedAt ?? 0);
      const o = observe(r, s, this.d.registry.get(s.node), this.d.apps, fresh, (epoch) => this.runningFor(r, s.node, epoch, now));
      if (s.state === 'updating') {
        if (o.online && o.settled && o.version === r.version) this.end(s, 'succeeded', `running ${short(r.version)}, healthy`);
        else if (o.failure) {
          this.end(s, 'failed', o.failure);
          s.desired = s.from;
        } else if (now - (s.startedAt ?? now) > r.stepTimeoutMs) {
          this.end(s, 'timed-out', `no healthy report of ${short(r.version)} within ${r.stepTimeoutMs} ms (last: ${o.last}${o.online ? '' : ', offline'})`);
          s.desired = s.from;
        }
      } else if (o.online && o.settled && o.version === s.from) {
        this.end(s, 'rolled-back', `back on ${short(s.from)} (${r.reason ?? 'rollout aborted'})`);
      } else if (now - (s.startedAt ?? now) > r.stepTimeoutMs) {
        this.end(s, 'failed', `rollback to ${short(s.from)} not confirmed within ${r.stepTimeoutMs} ms (last: ${o.last})`);
      }
    }
    const t = tally(r);
    if (r.state === 'running' && t.failed * 100 > r.maxFailuresPercent * t.started) {
      this.abort(r, `${t.failed} of ${t.started} device steps failed (threshold ${r.maxFailuresPercent}%)`);
    }
  }

  /** Starts the next wave once the current one is over and every device updated so far is still healthy. */
  private async advance(r: RolloutRecord): Promise<void> {
    const current = r.wave >= 0 ? r.plan[r.wave]! : [];
    if (!current.every((id) => isTerminal(r.steps[id]!.state))) return;
    for (const s of Object.values(r.steps)) {
      if (s.state !== 'succeeded') continue;
      // Still healthy? (An application's devices restart with each wave's recovery: a report not
      // yet about the new epoch is not a failure, only a failure or another version is.)
      const o = observe(r, s, this.d.registry.get(s.node), this.d.apps, true);
      if (!o.online || o.failure || (o.settled && o.version !== r.version)) {
        this.end(s, 'failed', `unhealthy after its update: ${o.online ? (o.failure ?? `now runs ${o.version ?? '?'}`) : 'offline'}`);
        s.desired = s.from;
      }
    }
    const t = tally(r);
    if (t.failed * 100 > r.maxFailuresPercent * Math.max(1, t.started)) return this.abort(r, `${t.failed} of ${t.started} device steps failed (threshold ${r.maxFailuresPercent}%)`);
    if (r.wave + 1 >= r.plan.length) {
      r.state = 'succeeded';
      r.endedAt = this.now();
      this.d.log.info({ rollout: r.id, version: r.version }, `rollout succeeded: ${describeTarget(r)}`);
      // Every node of the application runs the new bundle: it becomes the application's.
      const hosts = r.app ? this.d.apps?.hostsOf(r.app) ?? [] : [];
      if (r.kind === 'app' && hosts.length > 0 && hosts.every((h) => r.steps[h]?.state === 'succeeded')) await this.d.apps?.promoteCandidate(r.app!, r.version);
      return;
    }
    r.wave++;
    this.d.log.info({ rollout: r.id, wave: r.wave, devices: r.plan[r.wave] }, r.wave === 0 && r.canary > 0 ? 'rollout: canary' : 'rollout: next wave');
    for (const id of r.plan[r.wave]!) {
      const s = r.steps[id]!;
      const n = this.d.registry.get(id);
      const now = observe(r, s, n, this.d.apps, true);
      s.from = now.current;
      s.startedAt = this.now();
      s.bytesAt = this.d.traffic?.get(id) ?? 0;
      if (now.current === r.version && now.settled) {
        this.end(s, 'succeeded', `already on ${r.kind === 'agent' ? r.version : r.version.slice(0, 12)}`);
      } else if (now.cannot) {
        this.end(s, 'failed', now.cannot);
      } else {
        s.state = 'updating';
        s.desired = r.version;
      }
    }
    // A wave of devices already on the version is over at once.
    if (r.plan[r.wave]!.every((id) => isTerminal(r.steps[id]!.state))) await this.advance(r);
  }

  private abort(r: RolloutRecord, reason: string): void {
    r.state = 'aborting';
    r.reason = reason;
    this.d.log.warn({ rollout: r.id, reason }, 'rollout aborting: rolling updated devices back');
    const now = this.now();
    for (const s of Object.values(r.steps)) {
      if (s.state === 'pending') this.end(s, 'cancelled', `rollout aborted before its wave: ${reason}`);
      else if (s.state === 'succeeded' || s.state === 'updating') {
        if (!s.from) { this.end(s, 'failed', 'cannot roll back: the version it ran before is unknown'); continue; }
        s.state = 'rolling-back';
        s.desired = s.from;
        s.startedAt = now;
      }
    }
  }

  /** How long `node` has been seen running its part of `r`'s application in `epoch` (0 when it is not running now). */
  private runningFor(r: RolloutRecord, node: string, epoch: number, now: number): number {
    const seen = this.runningSince.get(node);
    if (this.d.registry.get(node)?.apps[r.app!]?.state !== 'running') {
      this.runningSince.delete(node);
      return 0;
    }
    const run = `${r.app}\0${epoch}`;
    if (seen?.run === run) return now - seen.since;
    this.runningSince.set(node, { run, since: now });
    return 0;
  }

  private end(s: DeviceStep, state: StepState, reason: string): void {
    s.state = state;
    s.reason = reason;
    s.endedAt = this.now();
    if (this.d.traffic && s.bytesAt !== undefined) s.bytes = this.d.traffic.get(s.node) - s.bytesAt;
    this.runningSince.delete(s.node);
    this.outcomes[state] = (this.outcomes[state] ?? 0) + 1;
  }

  private noteReport(n: NodeView): void {
    if (!n.agent) return;
    const c = n.agent.config;
    const key = `${n.agent.version}|${n.agent.state}|${n.agent.target ?? ''}|${n.agent.reason ?? ''}|${n.agent.seq ?? 0}|${c ? `${c.version}|${c.state}|${c.target ?? ''}` : ''}`;
    // Only noted here: the timer evaluates (a thousand heartbeats a second must stay cheap).
    if (this.reportChangedAt.get(n.id)?.key !== key) this.reportChangedAt.set(n.id, { key, at: this.now() });
  }

  private computeDesired(): Map<string, string> {
    const out = new Map<string, string>();
    for (const r of [...this.rollouts.values()].sort((a, b) => a.createdAt - b.createdAt)) {
      const target = r.kind === 'app' ? `app:${r.app}` : r.kind;
      for (const s of Object.values(r.steps)) if (s.desired) out.set(`${target}\0${s.node}`, s.desired);
    }
    return out;
  }

  /**
   * Sends what changed: agents and configurations in the nodes' desired states; an application's
   * bundles as one recovery of that application with the nodes on the new bundle (the epoch it
   * starts is noted on the steps it concerns: their reports from then on are about the new run).
   */
  private async republishChanged(): Promise<void> {
    const next = this.computeDesired();
    const changed = [...next].filter(([key, v]) => this.desired.get(key) !== v).map(([key]) => key.split('\0') as [string, string]);
    this.desired = next;
    const nodes = new Set(changed.filter(([target]) => !target.startsWith('app:')).map(([, node]) => node));
    const apps = new Map<string, Set<string>>();
    for (const [target, node] of changed) if (target.startsWith('app:')) apps.set(target.slice(4), (apps.get(target.slice(4)) ?? new Set()).add(node));
    await Promise.all([...nodes].map((node) => this.d.publish(node).catch((err: Error) => this.d.log.error({ err, node }, 'cannot publish desired state'))));
    for (const [app, touched] of apps) await this.switchBundles(app, touched).catch((err: Error) => this.d.log.error({ err, app }, 'cannot switch application bundles'));
  }

  private async switchBundles(app: string, touched: Set<string>): Promise<void> {
    const apps = this.d.apps;
    if (!apps) return;
    // The candidate: the newest rollout of this application that is going on or kept its devices.
    const r = [...this.rollouts.values()].filter((x) => x.kind === 'app' && x.app === app).sort((a, b) => b.createdAt - a.createdAt)[0];
    const b = r?.bundle;
    const on = b && r.state !== 'superseded' ? [...this.desired].filter(([k, v]) => k.startsWith(`app:${app}\0`) && v === b.sha256).map(([k]) => k.slice(app.length + 5)) : [];
    const candidate: Omit<CandidateBundle, 'nodes'> | null = b && on.length ? { bundleSha256: b.sha256, ...(b.signature ? { bundleSignature: b.signature } : {}), plan: b.plan, ...(b.appTopics ? { appTopics: b.appTopics } : {}), rollout: r.id } : null;
    const epoch = await apps.runCandidate(app, candidate, on, `rollout ${r?.id ?? '?'}: ${on.length} node(s) on bundle ${b?.sha256.slice(0, 12) ?? '?'}`);
    await this.serially(async () => {
      for (const x of this.rollouts.values()) {
        if (x.kind !== 'app' || x.app !== app) continue;
        let noted = false;
        for (const s of Object.values(x.steps)) {
          if ((s.state === 'updating' || s.state === 'rolling-back') && touched.has(s.node)) {
            s.epoch = epoch;
            noted = true;
          }
        }
        if (noted) await this.d.store.putRollout(x);
      }
    });
  }
}
