/** What every scenario gets: options, a temp dir, output, the rows so far, and the clusters. */
import { mkdtemp } from 'node:fs/promises';
import { join } from 'node:path';
import { Cluster, type ClusterConfig } from './cluster.js';
import type { BenchOptions } from './options.js';
import type { Role, Row } from './results.js';

/** The cluster configurations of the suite, by name. */
export const CLUSTERS = {
  /** As shipped: replay log on, exactly-once on (checkpoints every --checkpoint-ms). */
  default: (o: BenchOptions): ClusterConfig => ({ replayLog: true, checkpointMs: o.checkpointMs }),
  /** Replay log on, no checkpoints. */
  'replay-only': (): ClusterConfig => ({ replayLog: true, checkpointMs: 0 }),
  /** Neither replay log nor checkpoints. */
  'no-durability': (): ClusterConfig => ({ replayLog: false, checkpointMs: 0 }),
  /** As shipped, with the agent over TLS as on a remote device (the default on one host: plain loopback). */
  'agent-tls': (o: BenchOptions): ClusterConfig => ({ replayLog: true, checkpointMs: o.checkpointMs, agentTls: true }),
  /** As shipped, with the worker hosting the application in a thread (the default is inline). */
  'worker-thread': (o: BenchOptions): ClusterConfig => ({ replayLog: true, checkpointMs: o.checkpointMs, workerThread: true }),
  /** A fresh default cluster whose agent has run nothing before (footprint). */
  footprint: (o: BenchOptions): ClusterConfig => ({ replayLog: true, checkpointMs: o.checkpointMs }),
} as const;

export type ClusterName = keyof typeof CLUSTERS;

export class BenchContext {
  readonly rows: Row[] = [];
  /** Failures of scenarios or of parts of them: printed, saved, and the exit code is 1. */
  readonly errors: { scenario: string; message: string }[] = [];
  /** Further raw results for the JSON file, by scenario. */
  readonly raw: Record<string, unknown> = {};
  private readonly clusters = new Map<ClusterName, Promise<Cluster>>();

  constructor(readonly options: BenchOptions, readonly dir: string) {}

  static async create(options: BenchOptions, tmpRoot: string): Promise<BenchContext> {
    return new BenchContext(options, await mkdtemp(join(tmpRoot, 'tributary-bench-')));
  }

  say(line: string): void {
    process.stdout.write(line + '\n');
  }

  add(row: Row): Row {
    this.rows.push(row);
    return row;
  }

  find(scenario: string, predicate: (r: Row) => boolean = () => true): Row | undefined {
    return this.rows.find((r) => r.scenario === scenario && predicate(r));
  }

  baseline(role: Role, predicate: (r: Row) => boolean = () => true): Row | undefined {
    return this.rows.find((r) => r.role === role && predicate(r));
  }

  /** Runs `fn`; a failure is recorded and printed, and the benchmark goes on. */
  async attempt(scenario: string, what: string, fn: () => Promise<void>): Promise<boolean> {
    try {
      await fn();
      return true;
    } catch (err) {
      const message = `${what}: ${err instanceof Error ? err.message : String(err)}`;
      this.errors.push({ scenario, message });
      this.say(`  FAILED ${message}`);
      return false;
    }
  }

  /** The named cluster, started on first use (start-up is never inside a measured run). */
  cluster(name: ClusterName): Promise<Cluster> {
    let c = this.clusters.get(name);
    if (!c) {
      const t0 = Date.now();
      c = Cluster.start(join(this.dir, `cluster-${name}`), name, CLUSTERS[name](this.options)).then((cl) => {
        this.say(`  (cluster ${name} up in ${((Date.now() - t0) / 1000).toFixed(1)} s: ${JSON.stringify(cl.config)})`);
        return cl;
      });
      // A failed start is not cached: the next scenario may try again.
      c.catch(() => this.clusters.delete(name));
      this.clusters.set(name, c);
    }
    return c;
  }

  async stopCluster(name: ClusterName): Promise<void> {
    const c = this.clusters.get(name);
    this.clusters.delete(name);
    await c?.then((cl) => cl.stop(), () => {});
  }

  /** Stops every cluster not in `keep`. */
  async releaseClusters(keep: ReadonlySet<string> = new Set()): Promise<void> {
    const stopping: Promise<void>[] = [];
    for (const [name, c] of this.clusters) {
      if (keep.has(name)) continue;
      this.clusters.delete(name);
      stopping.push(c.then((cl) => cl.stop(), () => {}));
    }
    await Promise.all(stopping);
  }
}
