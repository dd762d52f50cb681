import type { Graph } from '../api/dag/graph.js';
import type { Connectors } from '../api/connectors.js';
import type { TaskError } from '../api/errors.js';
import { createLogger, type Logger } from '../log/log.js';
import type { Message } from '../api/message.js';
import { ChannelTaskRunner } from './channel-task-runner.js';
import type { SourceTaskRunner } from './source-task-runner.js';
import { buildTopology } from './topology.js';
import type { Clock } from './wall-clock.js';
import type { HostEvents, TaskHost } from './task-host.js';
import type { LatencyPercentiles } from '../wire/assignment.js';
import { LatencyHistogram } from './latency-histogram.js';
import type { TaskCounters } from './task-metrics.js';

export interface LocalRuntimeOptions {
  log?: Logger;
  /** Messages per batch and records per source read, fixed (default: reads of 1,024, batches of up to 4,096; router.ts). */
  batchSize?: number;
  /** Batches in flight per channel (default 16). */
  credits?: number;
  /** The host process's implementations of the built-in sources and sinks (builtinConnectors). */
  connectors?: Connectors;
  /** Wall time for the tasks (event-time latency, timers); default systemClock. */
  clock?: Clock;
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

  private readonly events: HostEvents;

  constructor(readonly graph: Graph, private readonly options: LocalRuntimeOptions = {}) {
    this.log = options.log ?? createLogger();
    this.events = {
      app: graph.name,
      connectors: options.connectors,
      clock: options.clock,
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

  private build(): void {
    const topology = buildTopology({
      graph: this.graph,
      log: this.log,
      events: this.events,
      batchSize: this.options.batchSize,
      localCredits: this.options.credits,
    });
    this.hosts.push(...topology.byProcessor);
    this.sources.push(...topology.sources);
  }
}
