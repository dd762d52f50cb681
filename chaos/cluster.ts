import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { adminHeaders, randomAdminToken, rememberAdminToken, spawnNode, type ChildNode, type LogLine } from '../cli/src/launcher.js';

export type ProcessKind = 'broker' | 'master' | 'worker' | 'agent';

/**
 * One process of the chaos cluster under a tiny supervisor: started with fixed id, flags and data
 * dir, killed with SIGKILL, restarted with exactly the same command line. Its stdout and stderr
 * (every incarnation) are appended to logs/<name>.log in the run's directory.
 */
export class Supervised {
  node: ChildNode | null = null;
  starts = 0;
  readonly logPath: string;
  private log: WriteStream | null = null;

  constructor(
    readonly name: string,
    readonly kind: ProcessKind,
    private args: string[],
    private readonly readyMsg: string,
    logDir: string,
    private readonly env: Record<string, string> = {},
  ) {
    this.logPath = join(logDir, `${name}.log`);
  }

  /** Fixes flags after the first start (an ephemeral port read back, reused on every restart). */
  pinArgs(args: string[]): void {
    this.args = args;
  }

  get commandLine(): string[] {
    return [...this.args];
  }

  /** Starts the process and resolves with its readiness log line; rejects on exit or timeout. */
  async start(timeoutMs: number): Promise<LogLine> {
    this.log ??= createWriteStream(this.logPath, { flags: 'a' });
    this.starts++;
    this.log.write(`--- chaos: start #${this.starts} at ${new Date().toISOString()}: tributary ${this.args.join(' ')}\n`);
    const node = spawnNode(this.name, this.args, this.env);
    const log = this.log;
    node.child.stderr!.on('data', (c: Buffer) => log.write(c));
    node.child.stdout!.on('data', (c: Buffer) => log.write(c));
    void node.exited.then((code) => log.write(`--- chaos: ${this.name} exited (code ${code}, signal ${node.child.signalCode ?? 'none'}) at ${new Date().toISOString()}\n`));
    this.node = node;
    const timer = new AbortController();
    try {
      return await Promise.race([
        node.waitFor((l) => l.msg === this.readyMsg, this.readyMsg),
        delay(timeoutMs, undefined, { signal: timer.signal }).then(() => {
          throw new Error(`${this.name} not ready ("${this.readyMsg}") within ${timeoutMs} ms; log: ${this.logPath}`);
        }),
      ]);
    } finally {
      timer.abort();
    }
  }

  get running(): boolean {
    const c = this.node?.child;
    return !!c && c.exitCode === null && c.signalCode === null;
  }

  /** SIGKILL, and wait until the OS has reaped it. */
  async kill(): Promise<void> {
    if (!this.node) return;
    this.log?.write(`--- chaos: SIGKILL ${this.name} at ${new Date().toISOString()}\n`);
    await this.node.stop('SIGKILL');
  }

  /** SIGTERM; after `graceMs` SIGKILL. Resolves with the exit code (null: killed). */
  async stop(graceMs: number): Promise<{ code: number | null; forced: boolean }> {
    const node = this.node;
    if (!node || !this.running) return { code: node?.child.exitCode ?? null, forced: false };
    const timer = new AbortController();
    const result = await Promise.race([
      node.stop('SIGTERM').then((code) => ({ code, forced: false })),
      delay(graceMs, undefined, { signal: timer.signal }).then(async () => ({ code: await node.stop('SIGKILL'), forced: true })),
    ]);
    timer.abort();
    return result;
  }

  async closeLog(): Promise<void> {
    const log = this.log;
    this.log = null;
    if (log) await new Promise<void>((resolve) => log.end(resolve));
  }

  /** The last lines this process wrote (for failure messages). */
  tail(n = 20): string {
    return this.node?.output.slice(-n).join('\n') ?? '';
  }
}

export interface ClusterLayout {
  workers: string[];
  /** Agent id -> site label. */
  agents: Record<string, string>;
}

export const DEFAULT_LAYOUT: ClusterLayout = {
  workers: ['worker-1', 'worker-2'],
  agents: { 'dev-1': 'plant-1', 'dev-2': 'plant-1', 'dev-3': 'plant-2' },
};

/**
 * A full local cluster as separate OS processes on loopback: a standalone broker
 * (`tributary broker`), a master using it, workers and agents, each with its own data dir under
 * `dir`. Ports are ephemeral: the broker and the master's HTTP API start on port 0, and the port
 * they got is pinned for their restarts (nodes and assignments keep pointing at it).
 */
export class ChaosCluster {
  readonly broker: Supervised;
  readonly master: Supervised;
  readonly workers: Supervised[];
  readonly agents: Supervised[];
  brokerUrl = '';
  httpUrl = '';
  readonly logDir: string;
  /** The master's bootstrap admin token (TRIBUTARY_ADMIN_TOKEN), the same across its restarts. */
  readonly adminToken = randomAdminToken();

  constructor(readonly dir: string, readonly layout: ClusterLayout = DEFAULT_LAYOUT, private readonly startTimeoutMs = 60_000) {
    this.logDir = join(dir, 'logs');
    this.broker = new Supervised('broker', 'broker', ['broker', '--host', '127.0.0.1', '--port', '0'], 'broker started', this.logDir);
    this.master = new Supervised('master', 'master', [], 'master started', this.logDir, { TRIBUTARY_ADMIN_TOKEN: this.adminToken });
    this.workers = layout.workers.map((id) => new Supervised(id, 'worker', [], 'worker started', this.logDir));
    this.agents = Object.keys(layout.agents).map((id) => new Supervised(id, 'agent', [], 'agent started', this.logDir));
  }

  get all(): Supervised[] {
    return [this.broker, this.master, ...this.workers, ...this.agents];
  }

  byName(name: string): Supervised {
    const p = this.all.find((x) => x.name === name);
    if (!p) throw new Error(`no process named ${name}`);
    return p;
  }

  async start(): Promise<void> {
    await mkdir(this.logDir, { recursive: true });
    const b = await this.broker.start(this.startTimeoutMs);
    const port = Number(b.port);
    this.brokerUrl = String(b.url);
    this.broker.pinArgs(['broker', '--host', '127.0.0.1', '--port', String(port)]);

    const masterArgs = (httpPort: number) => ['master', '--data', join(this.dir, 'master'), '--broker', this.brokerUrl, '--http-port', String(httpPort)];
    this.master.pinArgs(masterArgs(0));
    const m = await this.master.start(this.startTimeoutMs);
    this.httpUrl = String(m.http);
    rememberAdminToken(this.httpUrl, this.adminToken);
    this.master.pinArgs(masterArgs(Number(new URL(this.httpUrl).port)));

    for (const w of this.workers) w.pinArgs(['worker', '--id', w.name, '--master', this.brokerUrl, '--data', join(this.dir, w.name)]);
    for (const a of this.agents) a.pinArgs(['agent', '--id', a.name, '--master', this.brokerUrl, '--label', `site=${this.layout.agents[a.name]}`, '--data', join(this.dir, a.name)]);
    await Promise.all([...this.workers, ...this.agents].map((p) => p.start(this.startTimeoutMs)));
    await this.waitForNodesOnline([...this.workers, ...this.agents].map((p) => p.name));
  }

  /** Polls GET /nodes until every id is online (bounded). */
  async waitForNodesOnline(ids: string[], timeoutMs = this.startTimeoutMs): Promise<void> {
    const until = Date.now() + timeoutMs;
    while (Date.now() < until) {
      try {
        const res = await fetch(new URL('/nodes', this.httpUrl), { signal: AbortSignal.timeout(2000), headers: adminHeaders(this.httpUrl) });
        const nodes = (await res.json()) as { id: string; online: boolean }[];
        if (ids.every((id) => nodes.some((n) => n.id === id && n.online))) return;
      } catch {
        // the master is (re)starting
      }
      await delay(100);
    }
    throw new Error(`nodes ${ids.join(', ')} not all online within ${timeoutMs} ms`);
  }

  /**
   * Graceful stop: agents and workers first, then the master, then the broker, each with SIGTERM
   * (SIGKILL after `graceMs`). Returns every process's exit code.
   */
  async stop(graceMs = 15_000): Promise<Record<string, { code: number | null; forced: boolean }>> {
    const out: Record<string, { code: number | null; forced: boolean }> = {};
    const stopAll = async (ps: Supervised[]) => {
      for (const [i, r] of (await Promise.all(ps.map((p) => p.stop(graceMs)))).entries()) out[ps[i].name] = r;
    };
    await stopAll([...this.agents, ...this.workers]);
    await stopAll([this.master]);
    await stopAll([this.broker]);
    await Promise.all(this.all.map((p) => p.closeLog()));
    return out;
  }

  /** Last resort (an exception mid-run): SIGKILL whatever still runs. */
  async killAll(): Promise<void> {
    await Promise.all(this.all.filter((p) => p.running).map((p) => p.kill()));
    await Promise.all(this.all.map((p) => p.closeLog()));
  }
}
