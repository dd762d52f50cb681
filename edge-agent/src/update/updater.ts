import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { chmod, mkdir, readFile, rm, stat, statfs } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ErrorCodes, TributaryError, agentSigningPayload, verifyPayload, type AgentUpdateReport, type DesiredAgent, type Logger, type NodeHealth } from '@tributary/shared';
import { Slots } from './slots.js';
import { watchTrial } from './trial-watch.js';

export interface AgentUpdaterOptions {
  /** `<data>/agent`: the slots (deploy/agent-guard.sh); without `current` there, self-update is off. */
  dir: string;
  /** Files that may hold the master's Ed25519 public key (PEM), most trusted first. */
  keyFiles: string[];
  /** A new version must prove healthy within this (s), or the agent goes back by itself. */
  deadlineSeconds: number;
  /** Free space the download must leave on the slots' file system (bytes). */
  reserveBytes: number;
  /** Healthy for this long without a break before committing (ms): no crash loop. */
  healthyForMs: number;
  /** The version reported when there are no slots (a plain `tributary agent`). */
  fallbackVersion: string;
  log: Logger;
  /** Stops the agent and exits: the supervisor (systemd, Restart=always) starts the current slot. */
  restart(reason: string): void;
  /** The update state changed: send a heartbeat. */
  changed(): void;
  /** Another change is under way (a remote configuration on trial, remote-config.ts): one at a time. */
  blocked?(): boolean;
}

/**
 * The agent's side of self-update (issue 16). At start it settles a version on trial: a trial
 * for another version is a switch that never happened (cleared); its own trial is watched until
 * the node has been healthy (NodeAgent.health) for `healthyForMs` -> commit, or the deadline
 * passes -> back to the previous slot and restart. When a desired state names another version it
 * checks the disk budget (statfs), downloads into the spare slot, verifies SHA-256 and the
 * master's signature, switches on trial and restarts. Crashes before this code runs are the start
 * guard's (deploy/agent-guard.sh). Created by runAgent (main.ts) when the agent has slots.
 */
export class AgentUpdater {
  private readonly slots: Slots;
  private version: string;
  private hasSlots = false;
  private state: AgentUpdateReport['state'] = 'idle';
  private target: string | undefined;
  private reason: string | undefined;
  /** SHA-256 of binaries that failed here (hash, signature, health): not tried again. */
  private readonly refused = new Map<string, string>();
  private busy = false;
  private seq = 0;
  private trial: { stop(): void } | null = null;

  constructor(private readonly o: AgentUpdaterOptions) {
    this.slots = new Slots(o.dir);
    this.version = o.fallbackVersion;
  }

  /** Reads the slots and the last result; call before the node starts (its hello carries report()). */
  async init(): Promise<void> {
    const slot = await this.slots.currentSlot();
    if (!slot) return;
    this.hasSlots = true;
    this.version = (await this.slots.versionOf(slot)) ?? this.o.fallbackVersion;
    const trial = await this.slots.trial();
    if (trial && trial.version !== this.version) {
      await this.slots.clearTrial(trial.version, `the switch to ${trial.version} did not happen (interrupted); still on ${this.version}`);
    }
    const last = await this.slots.result();
    if (last) {
      this.state = last.state;
      this.target = last.version;
      this.reason = last.reason;
      const spare = await this.slots.spareSlot();
      if (last.state === 'rolled-back' && last.version !== this.version && (await this.slots.versionOf(spare)) === last.version) {
        // The build that failed here (still in the spare slot) is not tried again; another build of it may be.
        const sha = await sha256File(this.slots.binaryOf(spare)).catch(() => null);
        if (sha) this.refused.set(sha, `${last.state}: ${last.reason}`);
      }
    }
    if (trial && trial.version === this.version) {
      this.state = 'trial';
      this.target = this.version;
      this.reason = `start ${trial.starts}; must be healthy by ${new Date(trial.deadline * 1000).toISOString()}`;
    }
  }

  report(): AgentUpdateReport {
    return {
      version: this.version, arch: process.arch, slots: this.hasSlots, state: this.state,
      ...(this.target ? { target: this.target } : {}), ...(this.reason ? { reason: this.reason } : {}), seq: this.seq,
    };
  }

  /** While on trial: polls the node's health until committed or past the deadline. */
  async watch(health: () => NodeHealth): Promise<void> {
    const trial = this.hasSlots ? await this.slots.trial() : null;
    if (!trial || trial.version !== this.version) return;
    this.o.log.info({ event: 'update-trial', version: this.version, start: trial.starts, deadline: trial.deadline }, 'new agent version on trial');
    this.trial = watchTrial({
      health, healthyForMs: this.o.healthyForMs, deadlineMs: trial.deadline * 1000,
      healthy: () => void this.slots.commit(this.version).then(() => {
        this.state = 'committed';
        this.reason = 'healthy';
        this.o.log.info({ event: 'update-committed', version: this.version }, 'agent version committed: it proved healthy');
        this.o.changed();
      }),
      expired: (last) => {
        const reason = `health check failed: not healthy by the deadline (${last})`;
        void this.slots.rollBack(this.version, reason).then(() => {
          this.o.log.error({ event: 'update-rolled-back', version: this.version, reason }, 'agent version rolled back');
          this.o.restart(reason);
        });
      },
    });
  }

  stopWatching(): void {
    this.trial?.stop();
    this.trial = null;
  }

  /** A desired state's `agent` field (NodeAgent.reconcile): update unless it is what runs. */
  apply(target: DesiredAgent): void {
    if (target.version === this.version || this.busy || this.state === 'trial' || this.o.blocked?.()) return;
    if (!this.hasSlots) {
      this.set('failed', target.version, 'this agent has no slots (not installed with install.sh): it cannot update itself');
      return;
    }
    const refused = this.refused.get(target.sha256);
    if (refused !== undefined) {
      this.set('failed', target.version, `not tried again, this build failed here before (${refused})`);
      return;
    }
    this.busy = true;
    void this.update(target).catch((err: Error) => {
      this.busy = false;
      if (err instanceof TributaryError && err.code === ErrorCodes.AGENT_UPDATE_REFUSED) this.refused.set(target.sha256, err.message);
      this.o.log.error({ event: 'update-failed', version: target.version, err: err.message }, 'agent update failed; staying on this version');
      this.set('failed', target.version, err.message);
    });
  }

  private async update(target: DesiredAgent): Promise<void> {
    const spare = await this.slots.spareSlot();
    const spareBinary = this.slots.binaryOf(spare);
    // Going back to the version in the spare slot (a fleet rollback): no download when it is that build.
    if ((await this.slots.versionOf(spare)) === target.version && (await sha256File(spareBinary).catch(() => '')) === target.sha256) {
      this.verifySignature(target, await this.masterKey());
      return this.switchTo(spare, target);
    }
    const key = await this.masterKey();
    this.set('downloading', target.version, `from ${target.url}`);
    const res = await fetch(target.url).catch((err: Error) => { throw new Error(`cannot download ${target.url}: ${err.message}`); });
    if (!res.ok || !res.body) throw new Error(`cannot download ${target.url}: HTTP ${res.status}`);
    const size = Number(res.headers.get('content-length') ?? NaN);
    await this.checkDiskBudget(size, spareBinary).catch(async (err: Error) => { await res.body?.cancel(); throw err; });
    const part = join(dirname(spareBinary), '.download');
    await rm(part, { force: true });
    await mkdir(dirname(part), { recursive: true });
    const hash = createHash('sha256');
    await pipeline(Readable.fromWeb(res.body as import('node:stream/web').ReadableStream), async function* (src) {
      for await (const chunk of src) { hash.update(chunk as Buffer); yield chunk; }
    }, createWriteStream(part, { mode: 0o755 }));
    const sha = hash.digest('hex');
    if (sha !== target.sha256) {
      await rm(part, { force: true });
      throw new TributaryError(ErrorCodes.AGENT_UPDATE_REFUSED, `agent ${target.version}: SHA-256 ${sha} is not the expected ${target.sha256}: refused`);
    }
    this.verifySignature(target, key);
    await chmod(part, 0o755);
    await this.slots.stage(spare, part, target.version);
    await this.switchTo(spare, target);
  }

  private async switchTo(slot: string, target: DesiredAgent): Promise<void> {
    await this.slots.switchOnTrial(slot, target.version, this.o.deadlineSeconds);
    this.o.log.info({ event: 'update-switch', from: this.version, to: target.version, slot }, 'agent update verified and staged: restarting on the new version');
    this.o.restart(`update to ${target.version}`);
  }

  /** The download must fit: statfs free space minus what it takes (the spare slot's old binary is freed) >= reserve. */
  private async checkDiskBudget(size: number, spareBinary: string): Promise<void> {
    if (!Number.isFinite(size)) throw new TributaryError(ErrorCodes.AGENT_UPDATE_REFUSED, 'the master sent no content-length: the download cannot be checked against the disk budget');
    const fs = await statfs(this.o.dir);
    const free = fs.bavail * fs.bsize + ((await stat(spareBinary).catch(() => null))?.size ?? 0);
    if (free - size < this.o.reserveBytes) {
      throw new Error(`not enough disk: the update needs ${size} bytes, ${free} are free and ${this.o.reserveBytes} must stay free`);
    }
  }

  private verifySignature(target: DesiredAgent, keyPem: string): void {
    if (!verifyPayload(keyPem, agentSigningPayload(target.sha256), target.signature)) throw new TributaryError(ErrorCodes.AGENT_UPDATE_REFUSED, `agent ${target.version}: the master's signature does not verify: refused`);
  }

  private async masterKey(): Promise<string> {
    for (const f of this.o.keyFiles) {
      const pem = await readFile(f, 'utf8').catch(() => null);
      if (pem) return pem;
    }
    throw new Error(`no master signing key (${this.o.keyFiles.join(', ')}): an update cannot be verified, so none is installed`);
  }

  private set(state: AgentUpdateReport['state'], target: string, reason: string): void {
    this.state = state;
    this.target = target;
    this.reason = reason;
    this.seq++;
    this.o.changed();
  }
}

export async function sha256File(path: string): Promise<string> {
  return createHash('sha256').update(await readFile(path)).digest('hex');
}
