/**
 * A one-machine cluster for the benchmarks: a master (embedded aedes broker), one worker and one
 * agent, each its own `tributary` process (cli/src/launcher.ts, which kills them if the benchmark
 * exits), configured for durability through their environment:
 *  - agent  TRIBUTARY_REPLAY_LOG=true|false            (replay log on / off)
 *  - master TRIBUTARY_CHECKPOINT_INTERVAL_MS=<ms>, 0 = no checkpoints (not exactly-once)
 *  - agent  TRIBUTARY_BROKER_TLS=always               (over TLS as on a remote device; all nodes
 *           here are on the master's host, where they use its plain loopback listener by default)
 *  - worker TRIBUTARY_ISOLATION=thread                (an application thread, not inline)
 * Several apps run on it one after the other, each measured as one run.
 */
import { join } from 'node:path';
import { launchMaster, launchNode, nodeMasterArgs, waitForNodesOnline, type ChildNode } from '../../cli/src/launcher.js';
import type { SinkFigures } from '../apps/figures.js';
import { UsageWindow, type ProcessUsage } from './procs.js';
import { awaitOutput, kill, sleep, submit } from './submit.js';

export interface ClusterConfig {
  replayLog: boolean;
  checkpointMs: number;
  /** The agent connects over TLS (TRIBUTARY_BROKER_TLS=always), as a device elsewhere would. */
  agentTls?: boolean;
  /** The worker hosts the application in a worker thread (TRIBUTARY_ISOLATION=thread), not inline. */
  workerThread?: boolean;
}

export interface AppRun {
  figures: SinkFigures;
  /** Usage while data flowed: first record in the cloud to last arrival at the sink. */
  usage: Record<string, ProcessUsage>;
  /** CPU s per process from submission to results (application start-up included). */
  cpuSecTotal: Record<string, number>;
  wallMs: number;
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([p, new Promise<T>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: timed out after ${ms} ms`)), ms)))]).finally(() => clearTimeout(timer));
}

/** SIGTERM, and SIGKILL if the node has not exited after `ms`. */
export async function stopNode(node: ChildNode, ms = 10_000): Promise<void> {
  await withTimeout(node.stop(), ms, `${node.name} stop`).catch(() => node.stop('SIGKILL'));
}

export class Cluster {
  private apps = 0;

  private constructor(
    readonly name: string,
    readonly config: ClusterConfig,
    private readonly dir: string,
    readonly httpUrl: string,
    private readonly nodes: { master: ChildNode; worker: ChildNode; agent: ChildNode },
  ) {}

  static async start(dir: string, name: string, config: ClusterConfig): Promise<Cluster> {
    const started: ChildNode[] = [];
    try {
      const master = await withTimeout(launchMaster(['--data', join(dir, 'master'), '--mqtt-port', '0', '--http-port', '0'], {
        TRIBUTARY_CHECKPOINT_INTERVAL_MS: String(config.checkpointMs),
      }), 60_000, `${name}: master start`);
      started.push(master.node);
      // --master (and an enrolment token when the master enforces authentication) and --data.
      const nodeArgs = async (kind: 'worker' | 'agent', id: string, data: string) => [...(await nodeMasterArgs(kind, id, master.brokerUrl, data)), '--data', data];
      const [worker, agent] = await withTimeout(Promise.all([
        launchNode('worker', `${name}-worker`, await nodeArgs('worker', `${name}-worker`, join(dir, 'worker')), config.workerThread ? { TRIBUTARY_ISOLATION: 'thread' } : {}).then((n) => (started.push(n), n)),
        launchNode('agent', `${name}-agent`, await nodeArgs('agent', `${name}-agent`, join(dir, 'agent')), { TRIBUTARY_REPLAY_LOG: String(config.replayLog), ...(config.agentTls ? { TRIBUTARY_BROKER_TLS: 'always' } : {}) }).then((n) => (started.push(n), n)),
      ]), 60_000, `${name}: worker and agent start`);
      await waitForNodesOnline(master.httpUrl, [`${name}-worker`, `${name}-agent`]);
      return new Cluster(name, config, dir, master.httpUrl, { master: master.node, worker, agent });
    } catch (err) {
      await Promise.all(started.map((n) => n.stop('SIGKILL')));
      throw err;
    }
  }

  get pids(): Record<'master' | 'worker' | 'agent', number> {
    return { master: this.nodes.master.child.pid ?? NaN, worker: this.nodes.worker.child.pid ?? NaN, agent: this.nodes.agent.child.pid ?? NaN };
  }

  /**
   * Submits `app` (a measuring app from bench/apps) with `params`, waits for the sink's figures,
   * then kills the app and lets the nodes tidy up before the next run.
   */
  async run(app: string, params: Record<string, string>, timeoutMs: number): Promise<AppRun> {
    const id = `${params.name ?? 'bench'}-${++this.apps}`;
    const output = join(this.dir, `${id}.json`);
    const window = new UsageWindow(this.pids).start();
    const t0 = Date.now();
    let stopped = false;
    try {
      await submit(this.httpUrl, app, { ...params, name: id, output });
      const figures = await awaitOutput<SinkFigures>(this.httpUrl, id, output, timeoutMs);
      const wallMs = Date.now() - t0;
      const { usage, cpuSecTotal } = window.stop([figures.firstInput, figures.lastArrival]);
      stopped = true;
      return { figures, usage, cpuSecTotal, wallMs };
    } finally {
      if (!stopped) window.stop();
      await kill(this.httpUrl, id);
      await sleep(300);
    }
  }

  async stop(): Promise<void> {
    const { master, worker, agent } = this.nodes;
    await Promise.all([stopNode(agent), stopNode(worker)]);
    await stopNode(master);
  }
}
