import { cborEncoder } from '../wire/cbor.js';
import { decodeControl } from '../wire/control.js';
import type { AppAssignment, AppClockMessage, CheckpointReport } from '../wire/assignment.js';
import type { PartReplayLog } from '../store/replay-log.js';
import type { Connectors } from '../api/connectors.js';
import type { FeedStats, QuotaPolicy } from './source-feed.js';
import { taskAddress } from '../wire/assignment.js';
import type { Graph } from '../api/dag/graph.js';
import type { TaskError } from '../api/errors.js';
import type { Logger } from '../log/log.js';
import { parseTopic, topics } from '../wire/topics.js';
import type { Transport } from '../wire/transport.js';
import { inPlaceAdditions } from './assignment-diff.js';
import { ChannelTaskRunner } from './channel-task-runner.js';
import type { SourceTaskRunner } from './source-task-runner.js';
import type { HostEvents, TaskHost } from './task-host.js';
import { buildTopology } from './topology.js';
import { systemClock, type Clock } from './wall-clock.js';
import { WireChannels, type WireStats } from './wire-channels.js';

export type { WireStats } from './wire-channels.js';

export interface AppRuntimeOptions {
  graph: Graph;
  assignment: AppAssignment;
  nodeId: string;
  nodeLabels: Readonly<Record<string, string>>;
  transport: Transport;
  log: Logger;
  batchSize?: number;
  /**
   * Replay logs for this node's sources (log first, then send); absent: off. Injected (from
   * `@tributary/shared/store`) so that application bundles never pull in LevelDB.
   */
  replay?: { log: PartReplayLog; quotaBytes: number; policy: QuotaPolicy };
  /** The host process's implementations of the built-in sources and sinks. */
  connectors?: Connectors;
  /** Time for the credit refresh / AckRequest tick and the tasks' timers; default systemClock. */
  clock?: Clock;
}

/**
 * The part of one application that runs on one node (worker or agent): its local tasks, wired by
 * buildTopology (in-memory channels between them, remote ones to tasks on other nodes), the wire
 * side (WireChannels: frames, receive protocol, credits), checkpoint reports out and checkpoint
 * completions back in (log trims), and in-place assignment updates. The node host (app thread)
 * creates it and feeds it the transport's messages.
 */
export class AppRuntime {
  readonly app: string;
  readonly hosts: Map<number, TaskHost>;
  readonly stats: WireStats = { framesIn: 0, framesOut: 0, framesReusingValues: 0, framesRejected: 0, framesFenced: 0, duplicates: 0, gaps: 0, lateUndelivered: 0 };
  failure: TaskError | null = null;
  private readonly sources: SourceTaskRunner[];
  private readonly wire: WireChannels;
  private assignment: AppAssignment;
  private readonly log: Logger;
  private unsubscribe: (() => void) | null = null;
  private failureListeners: ((err: TaskError) => void)[] = [];
  private readonly replayLog: PartReplayLog | null;
  private closed = false;

  constructor(private readonly options: AppRuntimeOptions) {
    const { assignment, graph, nodeId, log } = options;
    this.assignment = assignment;
    this.app = assignment.app;
    this.log = log;
    this.replayLog = options.replay?.log ?? null;
    const clock = options.clock ?? systemClock;
    this.wire = new WireChannels({ app: this.app, epoch: assignment.epoch, nodeId, transport: options.transport, log, stats: this.stats, clock });
    const cp = assignment.checkpoint;
    const replay = options.replay;
    const topology = buildTopology({
      graph,
      placements: assignment.tasks,
      ...(assignment.taskCounts ? { taskCounts: assignment.taskCounts } : {}),
      nodeId,
      log,
      events: this.hostEvents(clock),
      batchSize: options.batchSize,
      remote: (s, r) => this.wire.remoteChannel(s, r),
      sourceOptions: (p, index) => ({
        nodeId,
        nodeLabels: { ...options.nodeLabels },
        replay: this.replayLog && replay ? { log: this.replayLog.log, name: String(taskAddress(p.id, index)), quotaBytes: replay.quotaBytes, policy: replay.policy } : undefined,
        replayFrom: cp?.recovery && cp.restoreFrom !== null ? cp.restoreFrom : -Infinity,
      }),
    });
    this.hosts = topology.hosts;
    this.sources = topology.sources;
    for (const e of topology.inbound) this.wire.addInbound(e.receiver, e.sender, e.host, graph.idleTimeoutMs);
  }

  get epoch(): number {
    return this.assignment.epoch;
  }

  /** Resolves when every local task has finished (bounded inputs) or failed. */
  get finished(): Promise<void> {
    return Promise.all([...this.hosts.values()].map((h) => h.finished)).then(() => undefined);
  }

  /** The task's index in the assignment (its address), which may differ from its position. */
  taskIndexOf(host: TaskHost): number {
    for (const [addr, h] of this.hosts) if (h === host) return addr % 65_536;
    return host.id.index;
  }

  onFailure(listener: (err: TaskError) => void): void {
    this.failureListeners.push(listener);
  }

  async start(): Promise<void> {
    await this.replayLog?.open();
    this.restore();
    this.unsubscribe = this.options.transport.onMessage((topic, payload) => this.onMessage(topic, payload));
    const channelHosts = [...this.hosts.values()].filter((h): h is ChannelTaskRunner => h instanceof ChannelTaskRunner);
    await Promise.all(channelHosts.map((h) => h.start()));
    // Listening and started: now let the senders send.
    this.wire.start();
    void this.finished.then(() => this.wire.stop());
    await Promise.all(this.sources.map((s) => s.start()));
  }

  /** Graceful: sources stop reading and everything downstream drains. */
  stopSources(): void {
    for (const s of this.sources) s.requestStop();
  }

  /** Immediate: tasks are abandoned (the node is stopping or the app was killed). */
  abort(): void {
    this.wire.stop();
    for (const h of this.hosts.values()) h.abort();
    this.unsubscribe?.();
    this.unsubscribe = null;
  }

  /** Releases what aborted tasks held (their connections), then the replay log (after finishing or aborting). */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.hosts.values()].map((h) => h.released));
    await this.replayLog?.close();
  }

  /** The sources' replay logs, summed, for the node's heartbeat. */
  async replayStats(): Promise<FeedStats & { diskBytes: number }> {
    const out = { backlogRecords: 0, bytes: 0, dropped: 0, blocked: false, diskBytes: 0 };
    for (const s of this.sources) {
      out.backlogRecords += s.feed.stats.backlogRecords;
      out.bytes += s.feed.stats.bytes;
      out.dropped += s.feed.stats.dropped;
      out.blocked ||= s.feed.stats.blocked;
    }
    out.diskBytes = (await this.replayLog?.diskBytes()) ?? 0;
    return out;
  }

  /**
   * Applies a new assignment in place when only remote senders were added (an agent joined):
   * their channels are added to the local receivers. Returns false when the change needs a
   * restart of this node's part (local tasks or receivers moved).
   */
  update(next: AppAssignment): boolean {
    const added = inPlaceAdditions(this.options.graph, this.assignment, next, this.options.nodeId);
    if (!added) return false;
    const old = this.assignment;
    this.assignment = next;
    for (const { receiver, sender } of added) {
      const host = this.hosts.get(taskAddress(receiver.processor, receiver.index)) as ChannelTaskRunner;
      this.wire.addInbound(receiver, sender, host, this.options.graph.idleTimeoutMs);
    }
    this.log.info({ app: this.app, from: old.version, to: next.version, added: next.tasks.length - old.tasks.length }, 'assignment updated in place');
    return true;
  }

  /** A restart from a checkpoint: every local task gets its state back before it starts. */
  private restore(): void {
    const cp = this.assignment.checkpoint;
    if (!cp?.recovery || cp.restoreFrom === null) return;
    for (const [addr, host] of this.hosts) host.restoreCheckpoint(cp.restoreFrom, cp.states?.[String(addr)] ?? null);
  }

  private onCheckpointed(host: TaskHost, t: number, state: Uint8Array | null): void {
    const report: CheckpointReport = { app: this.app, epoch: this.epoch, processor: host.id.processor, index: this.taskIndexOf(host), t, state };
    this.options.transport.publish(topics.checkpoint(this.options.nodeId), cborEncoder.encode(report), { qos: 1 }).catch((err: Error) => {
      this.log.warn({ err: err.message, t }, 'cannot send a checkpoint report');
    });
  }

  /** Checkpoint t is complete everywhere: the sources' logs need nothing before it any more. */
  private onAppClock(payload: Buffer): void {
    const decoded = decodeControl('clock', payload);
    if (!decoded.ok) {
      // Counted with the wire's rejected frames; logged rate-limited like them.
      const n = ++this.stats.framesRejected;
      if (n <= 10 || n % 1000 === 0) this.log.warn({ app: this.app, rejected: n }, `clock message rejected: ${decoded.reason}`);
      return;
    }
    const msg: AppClockMessage = decoded.value;
    const cp = msg.checkpoint;
    if (this.closed || !cp || cp.epoch !== this.epoch) return;
    for (const h of this.hosts.values()) h.checkpointComplete(cp.t);
    for (const s of this.sources) {
      s.feed.trim(cp.t, s.emitted).catch((err: Error) => this.log.warn({ err: err.message }, 'trimming the replay log failed'));
    }
  }

  private hostEvents(clock: Clock): HostEvents {
    const cp = this.assignment.checkpoint;
    return {
      lateDropped: () => {
        this.stats.lateUndelivered++;
      },
      failed: (host, err) => {
        if (this.failure) return;
        this.failure = err;
        this.log.error({ task: host.name, err }, err.message);
        for (const l of this.failureListeners) l(err);
      },
      app: this.app,
      checkpointIntervalMs: cp?.intervalMs ?? 0,
      recovering: cp?.recovery ?? false,
      connectors: this.options.connectors,
      checkpointed: (host, t, state) => this.onCheckpointed(host, t, state),
      clock,
    };
  }

  private onMessage(topic: string, payload: Buffer): void {
    const t = parseTopic(topic);
    if (t?.kind === 'appClock' && t.appId === this.app) return this.onAppClock(payload);
    if (!t || (t.kind !== 'data' && t.kind !== 'credit') || t.appId !== this.app || t.to !== this.options.nodeId) return;
    if (t.kind === 'data') this.wire.onData(Number(t.taskAddr), payload, t.from);
    else this.wire.onCredit(Number(t.taskAddr), payload, t.from);
  }
}
