import { randomBytes } from 'node:crypto';
import { mkdir, readFile, readlink, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** What the last update ended as, from `<agent dir>/result` (written by the agent or the start guard). */
export interface UpdateResult {
  state: 'committed' | 'rolled-back' | 'failed' | 'interrupted';
  version: string;
  reason: string;
}

/** A version on trial, from `<agent dir>/trial`: starts so far, deadline (epoch s), its label. */
export interface Trial {
  starts: number;
  deadline: number;
  version: string;
}

/**
 * The agent's two slots on disk, the same layout the start guard (deploy/agent-guard.sh, run by
 * systemd before every start) reads and repairs: `slots/a|b/{tributary-agent,version}`, the
 * `current` and `previous` symlinks (each replaced by rename, so a crash at any instant leaves
 * either the old or the new link), `trial` while a new version must prove itself, `result` of
 * the last update. Used by the AgentUpdater (updater.ts) only; every write goes through a
 * temporary file and rename.
 */
export class Slots {
  constructor(readonly dir: string) {}

  /** The slot `current` points at ('a' or 'b'), or null when there are no slots (a plain `tributary agent`). */
  async currentSlot(): Promise<string | null> {
    return this.slotOf('current');
  }

  async previousSlot(): Promise<string | null> {
    return this.slotOf('previous');
  }

  /** The slot an update goes into: the one that is not current. */
  async spareSlot(): Promise<string> {
    return (await this.currentSlot()) === 'a' ? 'b' : 'a';
  }

  async versionOf(slot: string): Promise<string | null> {
    return (await readFile(join(this.dir, 'slots', slot, 'version'), 'utf8').catch(() => '')).trim() || null;
  }

  binaryOf(slot: string): string {
    return join(this.dir, 'slots', slot, 'tributary-agent');
  }

  async trial(): Promise<Trial | null> {
    const text = await readFile(join(this.dir, 'trial'), 'utf8').catch(() => null);
    if (text === null) return null;
    const [starts, deadline, version] = text.trim().split(/\s+/);
    return { starts: Number(starts) || 0, deadline: Number(deadline) || 0, version: version ?? '?' };
  }

  async result(): Promise<UpdateResult | null> {
    const text = await readFile(join(this.dir, 'result'), 'utf8').catch(() => null);
    const m = text ? /^(\S+) (\S+) ?(.*)$/s.exec(text.trim()) : null;
    if (!m) return null;
    return { state: m[1] as UpdateResult['state'], version: m[2]!, reason: m[3] ?? '' };
  }

  async setResult(r: UpdateResult): Promise<void> {
    await this.put('result', `${r.state} ${r.version} ${r.reason.replace(/\s+/g, ' ')}\n`);
  }

  /** Moves a downloaded, verified binary into `slot` with its version label (the slot is not current). */
  async stage(slot: string, file: string, version: string): Promise<void> {
    const dir = join(this.dir, 'slots', slot);
    await mkdir(dir, { recursive: true });
    await rm(join(dir, 'version'), { force: true });
    await rename(file, join(dir, 'tributary-agent'));
    await writeFile(join(dir, 'version'), `${version}\n`);
  }

  /**
   * Switches to `slot` on trial: `previous` := current, then `trial`, then `current` := slot, in
   * that order, so that whatever step the power cuts, the guard finds something consistent: no
   * trial (nothing happened), a trial whose version is not the one running (the agent clears it),
   * or the new version on trial.
   */
  async switchOnTrial(slot: string, version: string, deadlineSeconds: number): Promise<void> {
    const cur = await readlink(join(this.dir, 'current'));
    await this.relink('previous', cur);
    await this.put('trial', `0 ${Math.floor(Date.now() / 1000) + deadlineSeconds} ${version}\n`);
    await this.relink('current', join('slots', slot, 'tributary-agent'));
  }

  /** The running version proved healthy: no more trial. */
  async commit(version: string): Promise<void> {
    await this.setResult({ state: 'committed', version, reason: 'healthy' });
    await rm(join(this.dir, 'trial'), { force: true });
  }

  /** Back to `previous` (the agent's own health deadline passed, or the fleet asked). */
  async rollBack(version: string, reason: string): Promise<void> {
    const prev = await readlink(join(this.dir, 'previous'));
    await this.relink('current', prev);
    await this.setResult({ state: 'rolled-back', version, reason });
    await rm(join(this.dir, 'trial'), { force: true });
  }

  /** A trial left over from a switch that never happened (power cut between `trial` and `current`). */
  async clearTrial(version: string, reason: string): Promise<void> {
    await this.setResult({ state: 'interrupted', version, reason });
    await rm(join(this.dir, 'trial'), { force: true });
  }

  private async slotOf(link: string): Promise<string | null> {
    const target = await readlink(join(this.dir, link)).catch(() => null);
    const m = target ? /slots\/([^/]+)\/tributary-agent$/.exec(target) : null;
    return m ? m[1]! : null;
  }

  private async relink(name: string, target: string): Promise<void> {
    const tmp = join(this.dir, `.${name}.${randomBytes(4).toString('hex')}`);
    await symlink(target, tmp);
    await rename(tmp, join(this.dir, name));
  }

  private async put(name: string, text: string): Promise<void> {
    const tmp = join(this.dir, `.${name}.${randomBytes(4).toString('hex')}`);
    await writeFile(tmp, text);
    await rename(tmp, join(this.dir, name));
  }
}
