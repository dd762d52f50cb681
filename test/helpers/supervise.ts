import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as delay } from 'node:timers/promises';
import { repoRoot } from './cli.js';

export const guardScript = join(repoRoot, 'deploy/agent-guard.sh');

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type LogLine = Record<string, any>;

/** Runs the start guard once, as systemd's ExecStartPre does. */
export function runGuard(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    execFile('sh', [guardScript, ...args], { env: { ...process.env, ...env } }, (err, _out, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stderr });
    });
  });
}

/**
 * A stand-in for systemd with the unit deploy/tributary-agent.service: before every start it runs
 * the guard (ExecStartPre=agent-guard <agent dir> <factory binary>), then `<agent dir>/current
 * --config <file>` (ExecStart), and starts again whenever that exits (Restart=always) after
 * `restartMs` (RestartSec). Log lines (pino JSON on stdout) are kept and can be awaited. `env` is
 * for both, `agentEnv` for the agent only (e.g. a PATH without node for the single binary).
 * Used by the rollout tests (test/rollout.test.ts).
 */
export class Supervisor extends EventEmitter {
  readonly lines: LogLine[] = [];
  readonly exits: (number | null)[] = [];
  readonly guardLog: string[] = [];
  private child: ChildProcess | null = null;
  private stopped = false;
  private loop: Promise<void> | null = null;

  constructor(readonly o: { id: string; agentDir: string; factory: string; config: string; restartMs?: number; env?: Record<string, string>; agentEnv?: Record<string, string> }) {
    super();
    this.setMaxListeners(100);
  }

  start(): this {
    this.loop = this.run();
    return this;
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      const g = await runGuard([this.o.agentDir, this.o.factory], this.o.env);
      if (g.stderr) this.guardLog.push(g.stderr.trim());
      if (g.code === 0 && !this.stopped) {
        const child = spawn(join(this.o.agentDir, 'current'), ['--config', this.o.config], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...this.o.env, ...this.o.agentEnv } });
        this.child = child;
        for (const stream of [child.stdout!, child.stderr!]) {
          createInterface({ input: stream }).on('line', (raw) => {
            let line: LogLine;
            try {
              line = JSON.parse(raw) as LogLine;
            } catch {
              line = { msg: raw, raw: true };
            }
            this.lines.push(line);
            this.emit('line', line);
          });
        }
        const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
        this.exits.push(code);
        this.child = null;
        this.emit('exit', code);
      }
      if (!this.stopped) await delay(this.o.restartMs ?? 200);
    }
  }

  /** Resolves with the first log line (already seen, or to come) that matches. */
  waitFor(pred: (l: LogLine) => boolean, what: string, timeoutMs = 90_000): Promise<LogLine> {
    const seen = this.lines.find(pred);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => { this.off('line', on); reject(new Error(`${this.o.id}: no log line "${what}" within ${timeoutMs} ms`)); }, timeoutMs);
      const on = (l: LogLine) => {
        if (!pred(l)) return;
        clearTimeout(timer);
        this.off('line', on);
        resolve(l);
      };
      this.on('line', on);
    });
  }

  /** Kills the running agent (as a power cut would, with SIGKILL); the loop starts it again. */
  kill(signal: NodeJS.Signals = 'SIGKILL'): void {
    this.child?.kill(signal);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    const c = this.child;
    if (c && c.exitCode === null) {
      const exited = new Promise((r) => c.once('exit', r));
      c.kill('SIGTERM');
      const t = setTimeout(() => c.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(t);
    }
    await this.loop;
  }
}
