import type { Graph } from '../api/dag/graph.js';
import type { Connectors } from '../api/connectors.js';
import type { TaskError } from '../api/errors.js';
import { createLogger, type Logger } from '../log/log.js';
import type { Message } from '../api/message.js';
import { createPartitioner } from '../api/partitioner/index.js';
import { ChannelTaskRunner } from './channel-task-runner.js';
import { DEFAULT_LOCAL_CREDITS, LocalChannel } from './local-channel.js';
import { DEFAULT_BATCH_SIZE, Router } from './router.js';
import { SourceTaskRunner } from './source-task-runner.js';
import type { HostEvents, TaskHost } from './task-host.js';
import type { LatencyPercentiles } from '../wire/assignment.js';
import { LatencyHistogram } from './latency-histogram.js';
import type { TaskCounters } from './task-metrics.js';

export interface LocalRuntimeOptions {
  log?: Logger;
  /** Messages per batch (default 1,024). */
  batchSize?: number;
  /** Batches in flight per channel (default 16). */
  credits?: number;
  /** The host process's implementations of the built-in sources and sinks (builtinConnectors). */
  connectors?: Connectors;
}

export interface ProcessorSummary extends TaskCounters {
  id: number;
  name: string;
  parallelism: number;
  /**
   * Over the whole run, all its tasks together (channel-fed processors only): event-time latency
   * (wall clock minus the event time of each batch's last record) and processing latency (inbox
   * wait + processing + I/O per batch), ms.
   */
  latencyMs?: LatencyPercentiles;
  processingMs?: LatencyPercentiles;
  /** Hottest input keys with approximate record counts (sampled), hottest first. */
  topKeys?: [key: string, count: number][];
}

export interface RunSummary {
  app: string;
  durationMs: number;
  processors: ProcessorSummary[];
  /** Late records with no late-data output configured (counted, logged, not delivered). */
  lateUndelivered: number;
  /** Records rejected by sources (malformed input). */
  rejected: number;
}

/**
 * Runs a whole application in one process: every task of every processor, wired with in-memory
 * channels. The same task hosts run on cloud workers and edge agents, where some channels are
 * remote instead. run() resolves when every source has ended and every task has flushed.
 */
export class LocalRuntime {
  private readonly log: Logger;
  private readonly hosts: TaskHost[][] = [];
  private readonly sources: SourceTaskRunner[] = [];
  private failure: TaskError | null = null;
  private lateUndelivered = 0;
  private startedAt = 0;

  constructor(readonly graph: Graph, private readonly options: LocalRuntimeOptions = {}) {
    this.log = options.log ?? createLogger();
    this.events.connectors = options.connectors;
    this.build();
  }

  /** The application's min-clock: the minimum over all tasks. */
  minClock(): number {
    let min = Infinity;
    for (const hosts of this.hosts) for (const h of hosts) if (h.inputClock < min) min = h.inputClock;
    return min;
  }

  tasks(): readonly TaskHost[] {
    return this.hosts.flat();
  }

  async run(): Promise<RunSummary> {
    this.startedAt = performance.now();
    const all = this.hosts.flat();
    // Every task is ready before any source reads, so no batch meets an unstarted task.
    const channelTasks = all.filter((h): h is ChannelTaskRunner => h instanceof ChannelTaskRunner);
    await Promise.all(channelTasks.map((h) => h.start()));
    if (!this.failure) await Promise.all(this.sources.map((s) => s.start()));
    await Promise.all(all.map((h) => h.finished));
    if (this.failure) throw this.failure;
    return this.summary();
  }

  /** Graceful stop: sources stop reading, their clocks go to +Infinity, everything drains. */
  stop(): void {
    for (const s of this.sources) s.requestStop();
  }

  summary(): RunSummary {
    const processors = this.graph.processors.map((p) => {
      const sum: ProcessorSummary = { id: p.id, name: p.name, parallelism: p.parallelism, in: 0, out: 0, late: 0, rejected: 0, batches: 0, maxQueued: 0 };
      const latency = new LatencyHistogram();
      const processing = new LatencyHistogram();
      const keys: [string, number][] = [];
      for (const h of this.hosts[p.id]) {
        for (const k of ['in', 'out', 'late', 'rejected', 'batches'] as const) sum[k] += h.metrics[k];
        sum.maxQueued = Math.max(sum.maxQueued, h.metrics.maxQueued);
        latency.merge(h.metrics.eventLatency);
        processing.merge(h.metrics.processingLatency);
        keys.push(...h.metrics.keys.sketch.top());
      }
      const latencyMs = latency.percentiles();
      const processingMs = processing.percentiles();
      if (latencyMs) sum.latencyMs = latencyMs;
      if (processingMs) sum.processingMs = processingMs;
      if (keys.length) sum.topKeys = keys.sort((a, b) => b[1] - a[1]).slice(0, 10);
      return sum;
    });
    return {
      app: this.graph.name,
      durationMs: Math.round(performance.now() - this.startedAt),
      processors,
      lateUndelivered: this.lateUndelivered,
      rejected: processors.reduce((n, p) => n + p.rejected, 0),
    };
  }

  private readonly events: HostEvents & { connectors?: Connectors } = {
    lateDropped: (host: TaskHost, msg: Message) => {
      if (++this.lateUndelivered <= 10) {
        this.log.warn({ task: host.name, ts: msg.ts }, 'late record and no late-data output configured (pipeline.late(sink)); counted only');
      }
    },
    failed: (host: TaskHost, err: TaskError) => {
      if (this.failure) return;
      this.failure = err;
      this.log.error({ task: host.name, err }, err.message);
      for (const h of this.hosts.flat()) h.abort();
    },
  };

  private build(): void {
    const { graph } = this;
    const batchSize = this.options.batchSize ?? DEFAULT_BATCH_SIZE;
    const credits = this.options.credits ?? DEFAULT_LOCAL_CREDITS;
    for (const p of graph.processors) {
      this.hosts[p.id] = Array.from({ length: p.parallelism }, (_, index) => {
        const log = this.log.child({ task: `${p.name}#${index}` });
        const router = new Router(batchSize);
        if (!p.source) return new ChannelTaskRunner(p, index, router, log, this.events);
        const s = new SourceTaskRunner(p, index, router, log, this.events, { batchSize });
        this.sources.push(s);
        return s;
      });
    }
    // Wire every sender task to every receiver task of each edge; receivers number their channels.
    for (const e of graph.edges) {
      const receivers = this.hosts[e.to] as ChannelTaskRunner[];
      this.hosts[e.from].forEach((sender, senderIndex) => {
        const channels = receivers.map((rx) => new LocalChannel(rx, rx.addChannel(), credits));
        const route = { partitioner: createPartitioner(e.partitioner, senderIndex), channels };
        if (e.kind === 'late') sender.router.setLateRoute(route);
        else sender.router.addRoute(route);
      });
    }
  }
}
