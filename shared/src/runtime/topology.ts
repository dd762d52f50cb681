import type { Graph, ProcessorSpec } from '../api/dag/graph.js';
import { createPartitioner } from '../api/partitioner/index.js';
import { taskAddress, type TaskPlacement } from '../wire/assignment.js';
import type { Logger } from '../log/log.js';
import type { OutChannel } from './channel.js';
import { ChannelTaskRunner } from './channel-task-runner.js';
import { DEFAULT_LOCAL_CREDITS, LocalChannel } from './local-channel.js';
import { DEFAULT_BATCH_SIZE, Router } from './router.js';
import { SourceTaskRunner, type SourceRunnerOptions } from './source-task-runner.js';
import type { HostEvents, TaskHost } from './task-host.js';

export interface TopologyOptions {
  graph: Graph;
  /**
   * Where every task of the application runs; absent: local mode, every task of every processor
   * (its parallelism) here.
   */
  placements?: readonly TaskPlacement[];
  /**
   * Processors `placements` lists with only this node's tasks (AppAssignment.taskCounts): their
   * task count in the application; those tasks carry their `position`.
   */
  taskCounts?: Readonly<Record<string, number>>;
  /** This node; tasks placed elsewhere are reached through `remote`. Default `local`. */
  nodeId?: string;
  log: Logger;
  events: HostEvents;
  /** Messages per batch, and records per source read, fixed (default: up to 4,096, sources sized by bytes: router.ts). */
  batchSize?: number;
  /** Batches in flight per in-process channel (default 16). */
  localCredits?: number;
  /** Extra options of the source task hosting task `index` of processor `p`. */
  sourceOptions?(p: ProcessorSpec, index: number): SourceRunnerOptions;
  /** The sending end of a channel from a task here to one on another node (cluster only). */
  remote?(sender: TaskPlacement, receiver: TaskPlacement): OutChannel;
}

/** A remote sender feeding a local receiver: the caller adds the receiving end of that channel. */
export interface InboundEdge {
  readonly receiver: TaskPlacement;
  readonly sender: TaskPlacement;
  readonly host: ChannelTaskRunner;
}

export interface Topology {
  /** This node's task hosts by task address. */
  readonly hosts: Map<number, TaskHost>;
  /** This node's task hosts per processor id, in task-index order. */
  readonly byProcessor: TaskHost[][];
  readonly sources: SourceTaskRunner[];
  /** Channels into local tasks from tasks on other nodes. */
  readonly inbound: InboundEdge[];
}

/** The placements of local mode: every task of every processor on `nodeId`. */
export function allHere(graph: Graph, nodeId: string): TaskPlacement[] {
  return graph.processors.flatMap((p) => Array.from({ length: p.parallelism }, (_, index) => ({ processor: p.id, index, node: nodeId })));
}

/** The tasks of `processor`, in task-index order. */
export function tasksOf(placements: readonly TaskPlacement[], processor: number): TaskPlacement[] {
  return placements.filter((t) => t.processor === processor).sort((a, b) => a.index - b.index);
}

/**
 * Wires the part of an application that runs on one node, for local mode (LocalRuntime: all
 * tasks here, in-process channels) and the cluster (AppRuntime: the tasks placed here, remote
 * channels for edges that cross nodes). Creates a host per local task (a source runner or a
 * channel-fed runner), and for each edge gives each local sender a route with one channel per
 * receiver task, partitioned as the edge says. Pure wiring: nothing starts here.
 */
export function buildTopology(options: TopologyOptions): Topology {
  const { graph, log, events } = options;
  const me = options.nodeId ?? 'local';
  const placements = options.placements ?? allHere(graph, me);
  const batchSize = options.batchSize ?? DEFAULT_BATCH_SIZE;
  const credits = options.localCredits ?? DEFAULT_LOCAL_CREDITS;
  const hosts = new Map<number, TaskHost>();
  const byProcessor: TaskHost[][] = [];
  const sources: SourceTaskRunner[] = [];
  const inbound: InboundEdge[] = [];

  for (const p of graph.processors) {
    const tasks = tasksOf(placements, p.id);
    const count = options.taskCounts?.[String(p.id)] ?? tasks.length;
    const spec: ProcessorSpec = count === p.parallelism ? p : { ...p, parallelism: Math.max(1, count) };
    byProcessor[p.id] = [];
    tasks.forEach((t, listed) => {
      if (t.node !== me) return;
      const position = t.position ?? listed;
      const taskLog = log.child({ task: `${p.name}#${t.index}` });
      const router = new Router(batchSize);
      let host: TaskHost;
      if (p.source) {
        const s = new SourceTaskRunner(spec, position, router, taskLog, events, { batchSize: options.batchSize, idleTimeoutMs: graph.idleTimeoutMs, ...options.sourceOptions?.(p, t.index) });
        sources.push(s);
        host = s;
      } else {
        host = new ChannelTaskRunner(spec, position, router, taskLog, events);
      }
      hosts.set(taskAddress(p.id, t.index), host);
      byProcessor[p.id].push(host);
    });
  }

  for (const e of graph.edges) {
    const senders = tasksOf(placements, e.from);
    const receivers = tasksOf(placements, e.to);
    senders.forEach((s, listed) => {
      const host = hosts.get(taskAddress(s.processor, s.index));
      if (!host) return;
      const position = s.position ?? listed;
      const channels = receivers.map((r): OutChannel => {
        const local = r.node === me ? (hosts.get(taskAddress(r.processor, r.index)) as ChannelTaskRunner) : null;
        if (local) return new LocalChannel(local, local.addChannel(), credits);
        if (!options.remote) throw new Error(`task ${r.processor}.${r.index} is on node ${r.node}, and no remote channels here`);
        return options.remote(s, r);
      });
      const route = { partitioner: createPartitioner(e.partitioner, position), channels };
      if (e.kind === 'late') host.router.setLateRoute(route);
      else host.router.addRoute(route);
    });
    for (const r of receivers.filter((t) => t.node === me)) {
      const host = hosts.get(taskAddress(r.processor, r.index)) as ChannelTaskRunner;
      for (const s of senders.filter((t) => t.node !== me)) inbound.push({ receiver: r, sender: s, host });
    }
  }
  return { hosts, byProcessor, sources, inbound };
}
