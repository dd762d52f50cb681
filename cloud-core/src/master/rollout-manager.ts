import { randomUUID } from 'node:crypto';
import { ErrorCodes, TributaryError, type DesiredAgent, type Logger } from '@tributary/shared';
import type { MasterStore } from './master-store.js';
import type { NodeView, Registry } from './registry.js';
import type { AgentArtefacts } from './agent-artefacts.js';
import { isTerminal, planWaves, tally, type DeviceStep, type RolloutRecord, type RolloutSpec, type StepState } from './rollout-types.js';

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
}

const VERSION = /^[0-9A-Za-z][0-9A-Za-z._-]{0,63}$/;

/**
 * Fleet rollouts of agent versions (issue 16): the canary first, then growing waves, each started
 * only while every device updated so far is online on the new version; past the failure threshold
 * the rollout aborts and every updated device is asked back to the version it ran before. A device
 * step ends succeeded (it reports the version committed), failed (its agent says why: refused
 * download, crash loop, health check), timed out, rolled back, cancelled or superseded. A newer
 * agent rollout supersedes a running one, so nothing wedges. Rollouts are stored (MasterStore) and
 * resumed by a restarted master. What a device should run reaches it as the `agent` field of its
 * desired state (AppManager asks agentFor()). Created by Master; driven by a timer and heartbeats.
 */
export class RolloutManager {
  private readonly rollouts = new Map<string, RolloutRecord>();
  /** Node -> the version its desired state names (the newest rollout that set one wins). */
  private desired = new Map<string, string>();
  /** Terminal device steps by outcome since this master started (Prometheus). */
  readonly outcomes: Record<string, number> = {};
  /** Registry time of the last change of each agent's update report (a failure must be newer than its step). */
  private readonly reportChangedAt = new Map<string, { key: string; at: number }>();
  private timer: NodeJS.Timeout | null = null;
  private ticking: Promise<void> = Promise.resolve();

  private readonly now: () => number;

  constructor(private readonly d: RolloutManagerDeps) {
    this.now = d.now ?? Date.now;
    d.registry.on('heartbeat', (n: NodeView) => this.noteReport(n));
  }

  async load(): Promise<void> {
    for (const r of await this.d.store.listRollouts()) this.rollouts.set(r.id, r);
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
    const version = this.desired.get(node);
    if (!version) return undefined;
    const arch = this.d.registry.get(node)?.agent?.arch ?? 'x64';
    const a = await this.d.artefacts.get(version, arch);
    if (!a) return undefined;
    return { version, url: `${this.d.publicUrl()}/agent/${version}/linux-${arch}`, sha256: a.sha256, signature: a.signature };
  }

  /** Starts a rollout (POST /rollouts): checks it, plans its waves, supersedes the running one. */
  async create(spec: RolloutSpec): Promise<RolloutRecord> {
    const bad = (msg: string) => new TributaryError(ErrorCodes.ROLLOUT_INVALID, msg);
    if (!VERSION.test(spec.version)) throw bad(`version ${spec.version}: 1-64 letters, digits, . _ -`);
    if (spec.canary < 0 || spec.waves.base < 1 || spec.waves.factor < 1) throw bad('--canary >= 0, --waves <base >= 1>,<factor >= 1>');
    if (!(spec.maxFailuresPercent >= 0 && spec.maxFailuresPercent <= 100)) throw bad('--max-failures: a percentage, 0-100');
    if (!(spec.stepTimeoutMs >= 1000)) throw bad('--step-timeout: at least 1s');
    if (!(await this.d.artefacts.get(spec.version, 'x64')) && !(await this.d.artefacts.get(spec.version, 'arm64'))) {
      throw bad(`the master has no signed agent binary ${spec.version} (<agent dir>/${spec.version}/tributary-agent-linux-<arch>, and <data>/pki/signing.key)`);
    }
    const nodes = this.d.registry.list().filter((n) => n.kind === 'agent' && Object.entries(spec.selector).every(([k, v]) => n.labels[k] === v)).map((n) => n.id);
    if (nodes.length === 0) throw bad(`no agent matches the selector ${JSON.stringify(spec.selector)}`);
    const plan = planWaves(nodes, spec.canary, spec.waves.base, spec.waves.factor);
    const r: RolloutRecord = {
      ...spec, id: `r-${this.now().toString(36)}-${randomUUID().slice(0, 6)}`, createdAt: this.now(), state: 'running', plan, wave: -1,
      steps: Object.fromEntries(plan.flatMap((ids, wave) => ids.map((node) => [node, { node, wave, state: 'pending' as StepState }]))),
    };
    await this.serially(async () => {
      for (const old of this.rollouts.values()) {
        if (old.kind !== r.kind || (old.state !== 'running' && old.state !== 'aborting')) continue;
        old.state = 'superseded';
        old.reason = `superseded by ${r.id}`;
        old.endedAt = this.now();
        for (const s of Object.values(old.steps)) if (!isTerminal(s.state)) this.end(s, 'superseded', `superseded by rollout ${r.id}`);
        await this.d.store.putRollout(old);
      }
      this.rollouts.set(r.id, r);
      this.d.log.info({ rollout: r.id, version: r.version, waves: plan.map((w) => w.length) }, 'rollout started');
      await this.advance(r);
      await this.d.store.putRollout(r);
    });
    await this.republishChanged();
    return r;
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
    for (const s of Object.values(r.steps)) {
      if (s.state !== 'updating' && s.state !== 'rolling-back') continue;
      const n = this.d.registry.get(s.node);
      const rep = n?.agent;
      const settled = rep && rep.state !== 'trial' && rep.state !== 'downloading';
      const fresh = (this.reportChangedAt.get(s.node)?.at ?? 0) >= (s.startedAt ?? 0);
      if (s.state === 'updating') {
        if (n?.online && settled && rep.version === r.version) this.end(s, 'succeeded', `running ${r.version}, healthy`);
        else if (rep && fresh && rep.target === r.version && rep.version !== r.version && ['failed', 'rolled-back', 'interrupted'].includes(rep.state)) {
          this.end(s, 'failed', `${rep.state}: ${rep.reason ?? 'no reason given'}; the device runs ${rep.version}`);
          s.desired = s.from;
        } else if (now - (s.startedAt ?? now) > r.stepTimeoutMs) {
          this.end(s, 'timed-out', `no healthy report of ${r.version} within ${r.stepTimeoutMs} ms (last: ${rep ? `${rep.version} ${rep.state}${rep.reason ? `: ${rep.reason}` : ''}` : 'nothing'}${n?.online ? '' : ', offline'})`);
          s.desired = s.from;
        }
      } else if (n?.online && settled && rep.version === s.from) {
        this.end(s, 'rolled-back', `back on ${s.from} (${r.reason ?? 'rollout aborted'})`);
      } else if (now - (s.startedAt ?? now) > r.stepTimeoutMs) {
        this.end(s, 'failed', `rollback to ${s.from} not confirmed within ${r.stepTimeoutMs} ms (device on ${rep?.version ?? '?'})`);
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
      const n = this.d.registry.get(s.node);
      if (!n?.online || n.agent?.version !== r.version) {
        this.end(s, 'failed', `unhealthy after its update: ${n?.online ? `now runs ${n.agent?.version ?? '?'}` : 'offline'}`);
        s.desired = s.from;
      }
    }
    const t = tally(r);
    if (t.failed * 100 > r.maxFailuresPercent * Math.max(1, t.started)) return this.abort(r, `${t.failed} of ${t.started} device steps failed (threshold ${r.maxFailuresPercent}%)`);
    if (r.wave + 1 >= r.plan.length) {
      r.state = 'succeeded';
      r.endedAt = this.now();
      this.d.log.info({ rollout: r.id, version: r.version }, 'rollout succeeded');
      return;
    }
    r.wave++;
    this.d.log.info({ rollout: r.id, wave: r.wave, devices: r.plan[r.wave] }, r.wave === 0 && r.canary > 0 ? 'rollout: canary' : 'rollout: next wave');
    for (const id of r.plan[r.wave]!) {
      const s = r.steps[id]!;
      const n = this.d.registry.get(id);
      s.from = n?.agent?.version ?? n?.version;
      s.startedAt = this.now();
      if (n?.agent && n.agent.version === r.version && n.agent.state !== 'trial') {
        this.end(s, 'succeeded', `already on ${r.version}`);
      } else if (n?.agent && !n.agent.slots) {
        this.end(s, 'failed', 'the agent has no slots (not installed with install.sh): it cannot update itself');
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

  private end(s: DeviceStep, state: StepState, reason: string): void {
    s.state = state;
    s.reason = reason;
    s.endedAt = this.now();
    this.outcomes[state] = (this.outcomes[state] ?? 0) + 1;
  }

  private noteReport(n: NodeView): void {
    if (!n.agent) return;
    const key = `${n.agent.version}|${n.agent.state}|${n.agent.target ?? ''}|${n.agent.reason ?? ''}|${n.agent.seq ?? 0}`;
    // Only noted here: the timer evaluates (a thousand heartbeats a second must stay cheap).
    if (this.reportChangedAt.get(n.id)?.key !== key) this.reportChangedAt.set(n.id, { key, at: this.now() });
  }

  private computeDesired(): Map<string, string> {
    const out = new Map<string, string>();
    for (const r of [...this.rollouts.values()].sort((a, b) => a.createdAt - b.createdAt)) {
      for (const s of Object.values(r.steps)) if (s.desired) out.set(s.node, s.desired);
    }
    return out;
  }

  private async republishChanged(): Promise<void> {
    const next = this.computeDesired();
    const changed = [...next].filter(([node, v]) => this.desired.get(node) !== v).map(([node]) => node);
    this.desired = next;
    await Promise.all(changed.map((node) => this.d.publish(node).catch((err: Error) => this.d.log.error({ err, node }, 'cannot publish desired state'))));
  }
}
