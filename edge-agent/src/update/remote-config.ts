import { readFileSync } from 'node:fs';
import {
  ErrorCodes, TributaryError, agentConfigSchema, configSigningPayload, verifyPayload,
  type AgentConfigReport, type AgentUpdateReport, type DesiredAgent, type DesiredConfig, type Logger, type NodeHealth,
} from '@tributary/shared';
import { ConfigLayer, parseLayer, sha256Of } from './config-layer.js';
import { watchTrial } from './trial-watch.js';
import type { SettledConfig } from './config-start.js';

/**
 * Settings a remote configuration may not set: who and where the agent is (its id, its data, its
 * master, its enrolment token) and the key it trusts the master by. Set only on the device.
 */
export const FORBIDDEN_REMOTE_SETTINGS: readonly string[] = ['id', 'data', 'master', 'enrolToken', 'token', 'masterKey'];

export interface RemoteConfigOptions {
  /** `<data>/agent`: where the layer is kept (config-layer.ts). */
  dir: string;
  /** Files that may hold the master's Ed25519 public key (PEM), most trusted first (the updater's). */
  keyFiles: string[];
  /** What settleAtStart found: the layer in force and whether it is on trial. */
  settled: Pick<SettledConfig<unknown>, 'version' | 'report' | 'onTrial'>;
  /** A new layer must prove healthy within this (s), or the previous one comes back. */
  deadlineSeconds: number;
  /** Healthy for this long without a break before committing (ms). */
  healthyForMs: number;
  /** Throws (ConfigError) when the agent's configuration with `settings` laid over its file does not validate. */
  validate(settings: Record<string, unknown>): void;
  /** Whether the agent can restart into a new layer: it has slots, so a supervisor starts it again. */
  canRestart: boolean;
  /** The binary is being updated or on trial: one change at a time. */
  busy(): boolean;
  log: Logger;
  /** Stops the agent and exits 0 (the updater's restart): the supervisor starts it with the new layer. */
  restart(reason: string): void;
  /** The report changed: send a heartbeat. */
  changed(): void;
}

/**
 * The agent's side of remote configurations (issue 16, `tributary fleet rollout config`). When a
 * desired state carries `config` (NodeAgent.reconcile -> applyConfig) it checks the SHA-256 of the
 * body, the master's signature over configSigningPayload, that the body is a JSON object setting
 * only settings of the agent's config file and none of FORBIDDEN_REMOTE_SETTINGS, and that the
 * configuration merged with it validates; then it keeps the layer on disk on trial and restarts.
 * The agent that starts next (settleAtStart, then watch) commits it once healthy, or puts the
 * previous one back at the deadline or after a crash loop. A refused or rolled-back SHA-256 is
 * never tried again. Created by runAgent (main.ts) beside the AgentUpdater.
 */
export class RemoteConfig {
  private readonly store: ConfigLayer;
  private readonly version: string;
  private state: AgentConfigReport['state'];
  private target: string | undefined;
  private reason: string | undefined;
  private readonly refused: Map<string, string>;
  private staging = false;
  private trial: { stop(): void } | null = null;
  /** Counts changes of this report (added to the updater's seq). */
  seq = 0;

  constructor(private readonly o: RemoteConfigOptions) {
    this.store = new ConfigLayer(o.dir);
    this.version = o.settled.version;
    this.state = o.settled.report.state;
    this.target = o.settled.report.target;
    this.reason = o.settled.report.reason;
    this.refused = this.store.refused();
  }

  report(): AgentConfigReport {
    return { version: this.version, state: this.state, ...(this.target ? { target: this.target } : {}), ...(this.reason ? { reason: this.reason } : {}) };
  }

  /** Whether a layer is on trial or being put in force (the updater waits for it). */
  busy(): boolean {
    return this.state === 'trial' || this.staging;
  }

  /** A desired state's `config`: put it in force unless it is what runs, or was refused before. */
  apply(target: DesiredConfig): void {
    if (target.sha256 === this.version || this.busy() || this.o.busy()) return;
    if (!this.o.canRestart) {
      this.set('failed', target.sha256, 'no slots: this agent was not installed with install.sh, no supervisor would start it again with the new configuration');
      return;
    }
    const before = this.refused.get(target.sha256);
    if (before !== undefined) {
      // Already reported (refused, or rolled back at the last start): the report keeps its reason.
      if (this.target !== target.sha256) this.set('failed', target.sha256, `not tried again, this configuration failed here before (${before})`);
      return;
    }
    try {
      this.verify(target);
    } catch (err) {
      const msg = (err as Error).message;
      if (err instanceof TributaryError && err.code === ErrorCodes.AGENT_CONFIG_REFUSED) this.refused.set(target.sha256, msg);
      this.o.log.error({ event: 'config-refused', target: target.sha256, reason: msg }, 'remote configuration refused; nothing changed');
      this.set('failed', target.sha256, msg);
      return;
    }
    this.staging = true;
    try {
      this.store.stage(target.body, target.sha256, this.o.deadlineSeconds);
    } catch (err) {
      // E.g. a full disk: what is in force stays (the next start removes a half-written temporary).
      this.staging = false;
      this.o.log.error({ event: 'config-failed', target: target.sha256, err: (err as Error).message }, 'remote configuration could not be kept on disk; nothing changed');
      this.set('failed', target.sha256, `cannot keep it on disk: ${(err as Error).message}`);
      return;
    }
    this.o.log.info({ event: 'config-switch', from: this.version, to: target.sha256 }, 'remote configuration verified and kept: restarting with it on trial');
    this.o.restart(`configuration ${target.sha256}`);
  }

  /** While on trial: polls the node's health until committed, or past the deadline (then back and restart). */
  watch(health: () => NodeHealth): void {
    const trial = this.o.settled.onTrial ? this.store.trial() : null;
    if (!trial || trial.sha256 !== this.version) return;
    this.o.log.info({ event: 'config-trial', version: this.version, start: trial.starts, deadline: trial.deadline }, 'remote configuration on trial');
    this.trial = watchTrial({
      health, healthyForMs: this.o.healthyForMs, deadlineMs: trial.deadline * 1000,
      healthy: () => {
        this.store.commit(this.version);
        this.o.log.info({ event: 'config-committed', version: this.version }, 'remote configuration committed: it proved healthy');
        this.set('committed', this.version, 'healthy');
      },
      expired: (last) => {
        const reason = `health check failed: not healthy by the deadline (${last})`;
        this.store.rollBack(this.version, reason);
        this.o.log.error({ event: 'config-rolled-back', target: this.version, reason }, 'remote configuration rolled back');
        this.o.restart(reason);
      },
    });
  }

  stopWatching(): void {
    this.trial?.stop();
    this.trial = null;
  }

  /** Everything that must hold before anything changes; throws TRIB_ERR_AGENT_CONFIG_REFUSED (or a missing key). */
  private verify(target: DesiredConfig): void {
    const refuse = (why: string) => new TributaryError(ErrorCodes.AGENT_CONFIG_REFUSED, `configuration ${target.sha256}: ${why}: refused`);
    const sha = sha256Of(target.body);
    if (sha !== target.sha256) throw refuse(`its SHA-256 is ${sha}, not the one the master named`);
    if (!verifyPayload(this.masterKey(), configSigningPayload(target.sha256), target.signature)) throw refuse("the master's signature does not verify");
    const parsed = parseLayer(target.body);
    if (!parsed.ok) throw refuse(parsed.reason);
    const settings = parsed.settings;
    const forbidden = Object.keys(settings).filter((k) => FORBIDDEN_REMOTE_SETTINGS.includes(k));
    if (forbidden.length > 0) throw refuse(`it sets ${forbidden.join(', ')}, which say who and where the agent is and are set on the device only`);
    const unknown = Object.keys(settings).filter((k) => !(k in agentConfigSchema.shape));
    if (unknown.length > 0) throw refuse(`agents have no setting ${unknown.join(', ')}`);
    try {
      this.o.validate(settings);
    } catch (err) {
      throw refuse(`the agent's configuration with it does not validate (${(err as Error).message})`);
    }
  }

  private masterKey(): string {
    for (const f of this.o.keyFiles) {
      try {
        return readFileSync(f, 'utf8');
      } catch {
        // The next candidate.
      }
    }
    throw new Error(`no master signing key (${this.o.keyFiles.join(', ')}): a configuration cannot be verified, so none is applied`);
  }

  /** Desired states repeat: a report that does not change is not a change (no seq, no heartbeat). */
  private set(state: AgentConfigReport['state'], target: string, reason: string): void {
    if (state === this.state && target === this.target && reason === this.reason) return;
    this.state = state;
    this.target = target;
    this.reason = reason;
    this.seq++;
    this.o.changed();
  }
}

/**
 * What NodeAgent gets as `update` on an agent: the updater's report with the configuration's in
 * `config` and one `seq` counting changes of both; desired `agent` to the updater, `config` here.
 */
export function withRemoteConfig(
  updater: { report(): AgentUpdateReport; apply(target: DesiredAgent): void },
  config: RemoteConfig,
): { report(): AgentUpdateReport; apply(target: DesiredAgent): void; applyConfig(target: DesiredConfig): void } {
  return {
    report: () => {
      const r = updater.report();
      return { ...r, seq: (r.seq ?? 0) + config.seq, config: config.report() };
    },
    apply: (target) => updater.apply(target),
    applyConfig: (target) => config.apply(target),
  };
}
