/**
 * Child processes of the benchmark. Every one is tracked and SIGKILLed when the benchmark process
 * exits for any reason (bench/run.ts turns SIGINT/SIGTERM and the deadline into an exit), so a
 * failed run never leaves a broker, a publisher or Node-RED behind.
 *
 * `BenchChild` runs one of the scripts under bench/children/ (TypeScript, through tsx) and talks
 * to it in JSON lines: commands on its stdin, messages `{ type, ... }` on its stdout (the child
 * side is bench/children/io.ts). A child exits when its stdin closes.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { once } from 'node:events';
import { repoRoot } from './paths.js';

const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/** spawn() whose child is killed with the benchmark; stderr's last lines are kept for errors. */
export function spawnTracked(command: string, args: string[], options: SpawnOptions): { child: ChildProcess; tail: string[] } {
  const child = spawn(command, args, { cwd: repoRoot, ...options });
  running.add(child);
  child.once('exit', () => running.delete(child));
  const tail: string[] = [];
  child.stderr?.setEncoding('utf8').on('data', (d: string) => {
    tail.push(...d.split('\n').filter((l) => l.length > 0));
    if (tail.length > 40) tail.splice(0, tail.length - 40);
  });
  return { child, tail };
}

/** SIGTERM, then SIGKILL if the child is still there after `graceMs`. */
export async function stopChild(child: ChildProcess, graceMs = 5000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

export type ChildMessage = { type: string } & Record<string, unknown>;

export class BenchChild {
  private buffered: ChildMessage[] = [];
  private waiter: ((m: ChildMessage | null) => void) | null = null;
  private readonly child: ChildProcess;
  private readonly tail: string[];
  private exitCode: number | null | undefined = undefined;

  private constructor(readonly name: string, script: string, args: string[], env: Record<string, string>) {
    ({ child: this.child, tail: this.tail } = spawnTracked(process.execPath, ['--import', 'tsx', script, ...args], {
      env: { ...process.env, TRIBUTARY_LOG_LEVEL: 'silent', ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    }));
    let buf = '';
    this.child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      buf += d;
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (!line.startsWith('{')) continue;
        try {
          this.deliver(JSON.parse(line) as ChildMessage);
        } catch { /* not ours */ }
      }
    });
    this.child.stdin!.on('error', () => {}); // the child may be gone already
    this.child.once('exit', (code) => {
      this.exitCode = code;
      this.deliver(null);
    });
  }

  /** Starts `script` (a path under bench/children/) with `args`. */
  static start(name: string, script: string, args: string[] = [], env: Record<string, string> = {}): BenchChild {
    return new BenchChild(name, script, args, env);
  }

  get pid(): number {
    return this.child.pid ?? NaN;
  }

  private deliver(m: ChildMessage | null): void {
    if (m) this.buffered.push(m);
    const w = this.waiter;
    this.waiter = null;
    w?.(m);
  }

  send(command: Record<string, unknown>): void {
    this.child.stdin!.write(JSON.stringify(command) + '\n');
  }

  /** The next message of `type`; an `error` message, the child's exit or the timeout rejects. */
  async next(type: string, timeoutMs: number): Promise<ChildMessage> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.buffered.findIndex((m) => m.type === type || m.type === 'error');
      if (i >= 0) {
        const [m] = this.buffered.splice(i, 1);
        if (m.type === 'error') throw new Error(`${this.name}: ${String(m.message)}`);
        return m;
      }
      if (this.exitCode !== undefined) throw new Error(`${this.name} exited (${this.exitCode}) while waiting for ${type}\n${this.tail.join('\n')}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`${this.name}: no ${type} within ${timeoutMs} ms\n${this.tail.join('\n')}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(() => {
          this.waiter = null;
          resolve();
        }, left);
        this.waiter = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
  }

  /** Sends `command` and waits for the reply of `type`. */
  async request(command: Record<string, unknown>, type: string, timeoutMs: number): Promise<ChildMessage> {
    this.send(command);
    return this.next(type, timeoutMs);
  }

  /** Closes stdin (the child's cue to exit), then SIGTERM / SIGKILL if it lingers. */
  async stop(): Promise<void> {
    if (this.exitCode !== undefined) return;
    this.child.stdin!.end();
    const exited = once(this.child, 'exit');
    const t = setTimeout(() => void stopChild(this.child, 2000), 3000);
    await exited;
    clearTimeout(t);
  }
}
