import { createHash, randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, readdirSync, renameSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';

/** A remote configuration on trial, from `<agent dir>/config.trial`: starts so far, deadline (epoch s), its SHA-256. */
export interface ConfigTrial {
  starts: number;
  deadline: number;
  sha256: string;
}

/** How the last change of the remote configuration ended, from `<agent dir>/config.result`. */
export interface ConfigResult {
  state: 'committed' | 'rolled-back' | 'failed';
  sha256: string;
  reason: string;
}

/** The remote layer the agent runs with: its bytes, their SHA-256 and the settings they hold. */
export interface CurrentLayer {
  sha256: string;
  body: Buffer;
  /** The parsed JSON object, or the reason it is not one (a layer that cannot be loaded). */
  parsed: ParsedLayer;
}

export const sha256Of = (b: Buffer | Uint8Array): string => createHash('sha256').update(b).digest('hex');

export type ParsedLayer = { ok: true; settings: Record<string, unknown> } | { ok: false; reason: string };

/** Parses a remote configuration's bytes: a JSON object, or the reason it is not one. */
export function parseLayer(body: Buffer | Uint8Array): ParsedLayer {
  try {
    const v: unknown = JSON.parse(Buffer.from(body).toString('utf8'));
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return { ok: false, reason: 'it is not a JSON object' };
    return { ok: true, settings: v as Record<string, unknown> };
  } catch (err) {
    return { ok: false, reason: `it is not JSON (${(err as Error).message})` };
  }
}

/**
 * The remote configuration layer on disk, beside the binary slots in `<data>/agent/` (slots.ts):
 *   config.json           the layer the agent runs with (absent: none, the file alone)
 *   config.previous.json  the one before it, where a rollback goes (absent: none)
 *   config.trial          "<starts> <deadline epoch s> <sha256>" while config.json must prove healthy
 *   config.result         "<state> <sha256> <reason>" of the last change (committed, rolled-back, failed)
 *   config.refused        "<sha256> <reason>" lines: layers that rolled back here, never tried again
 * Every file is written whole to a temporary `.config*` file, fsynced, renamed over the old one and
 * the directory fsynced: a power cut at any instant leaves the old or the new file, never half of
 * one; temporaries left behind are removed at the next start (settleAtStart, remote-config.ts).
 * Synchronous on purpose: the agent reads it before anything else starts, and the files are small.
 * Used by RemoteConfig and settleAtStart (remote-config.ts) only.
 */
export class ConfigLayer {
  constructor(readonly dir: string) {}

  current(): CurrentLayer | null {
    const body = this.read('config.json');
    return body ? { sha256: sha256Of(body), body, parsed: parseLayer(body) } : null;
  }

  trial(): ConfigTrial | null {
    const text = this.read('config.trial')?.toString('utf8');
    if (text === undefined) return null;
    const [starts, deadline, sha256] = text.trim().split(/\s+/);
    return { starts: Number(starts) || 0, deadline: Number(deadline) || 0, sha256: sha256 ?? '?' };
  }

  result(): ConfigResult | null {
    const m = /^(\S+) (\S+) ?(.*)$/s.exec(this.read('config.result')?.toString('utf8').trim() ?? '');
    return m ? { state: m[1] as ConfigResult['state'], sha256: m[2]!, reason: m[3] ?? '' } : null;
  }

  refused(): Map<string, string> {
    const lines = this.read('config.refused')?.toString('utf8').split('\n').filter(Boolean) ?? [];
    return new Map(lines.map((l) => [l.slice(0, l.indexOf(' ')), l.slice(l.indexOf(' ') + 1)]));
  }

  setResult(r: ConfigResult): void {
    this.put('config.result', `${r.state} ${r.sha256} ${oneLine(r.reason)}\n`);
  }

  setTrial(t: ConfigTrial): void {
    this.put('config.trial', `${t.starts} ${t.deadline} ${t.sha256}\n`);
  }

  clearTrial(): void {
    rmSync(join(this.dir, 'config.trial'), { force: true });
    this.syncDir();
  }

  /**
   * Puts `body` (verified) in force on trial: the new bytes into a temporary file first, then
   * previous := current, then the trial, then the rename that makes it current. A power cut before
   * the rename leaves the old layer in force (a trial naming a layer that is not current is cleared
   * at the next start); after it, the new one on trial.
   */
  stage(body: Uint8Array, sha256: string, deadlineSeconds: number): void {
    mkdirSync(this.dir, { recursive: true });
    const tmp = this.writeTemp('config.json', body);
    const cur = this.read('config.json');
    if (cur) this.put('config.previous.json', cur);
    else this.remove('config.previous.json');
    this.setTrial({ starts: 0, deadline: Math.floor(Date.now() / 1000) + deadlineSeconds, sha256 });
    renameSync(tmp, join(this.dir, 'config.json'));
    this.syncDir();
  }

  /** The layer on trial proved healthy: no more trial. */
  commit(sha256: string): void {
    this.setResult({ state: 'committed', sha256, reason: 'healthy' });
    this.clearTrial();
  }

  /**
   * Back to the previous layer (none: the file alone): the result first (a cut after it still
   * reports why), then config.json restored, then the trial removed; `sha256` is never tried again.
   */
  rollBack(sha256: string, reason: string): void {
    this.setResult({ state: 'rolled-back', sha256, reason });
    const refused = this.refused();
    refused.set(sha256, oneLine(reason));
    this.put('config.refused', [...refused].slice(-20).map(([s, r]) => `${s} ${r}\n`).join(''));
    const prev = this.read('config.previous.json');
    if (prev) this.put('config.json', prev);
    else this.remove('config.json');
    this.clearTrial();
  }

  /** No remote layer any more (the previous one did not load either): the file alone. */
  drop(): void {
    this.remove('config.json');
  }

  /** Removes temporaries a power cut left behind (their rename never happened); returns their names. */
  cleanTemps(): string[] {
    let names: string[];
    try {
      names = readdirSync(this.dir).filter((n) => n.startsWith('.config'));
    } catch {
      return [];
    }
    for (const n of names) rmSync(join(this.dir, n), { force: true });
    return names;
  }

  private read(name: string): Buffer | undefined {
    try {
      return readFileSync(join(this.dir, name));
    } catch {
      return undefined;
    }
  }

  private put(name: string, data: string | Uint8Array): void {
    mkdirSync(this.dir, { recursive: true });
    renameSync(this.writeTemp(name, data), join(this.dir, name));
    this.syncDir();
  }

  private remove(name: string): void {
    rmSync(join(this.dir, name), { force: true });
    this.syncDir();
  }

  /** Writes `data` to `.<name>.<random>` and fsyncs it; the caller renames it into place. */
  private writeTemp(name: string, data: string | Uint8Array): string {
    const tmp = join(this.dir, `.${name}.${randomBytes(4).toString('hex')}`);
    const fd = openSync(tmp, 'w', 0o600);
    try {
      writeSync(fd, typeof data === 'string' ? Buffer.from(data, 'utf8') : Buffer.from(data));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    return tmp;
  }

  /** Makes the renames durable (the directory entry), where the file system allows it. */
  private syncDir(): void {
    let fd: number | undefined;
    try {
      fd = openSync(this.dir, 'r');
      fsyncSync(fd);
    } catch {
      // Some file systems refuse fsync on a directory: the rename is still atomic there.
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
  }
}

const oneLine = (s: string): string => s.replace(/\s+/g, ' ').trim();
