import { decodeFrame } from '../wire/frame.js';
import { cborDecoder, cborEncoder } from '../wire/cbor.js';
import type { AppAssignment, AppClockMessage, CheckpointReport, TaskPlacement } from '../wire/assignment.js';
import type { PartReplayLog } from '../store/replay-log.js';
import type { Connectors } from '../api/connectors.js';
import type { FeedStats, QuotaPolicy } from './source-feed.js';
import { taskAddress } from '../wire/assignment.js';
import type { Graph, ProcessorSpec } from '../api/dag/graph.js';
import type { TaskError } from '../api/errors.js';
import type { Logger } from '../log/log.js';
import { createPartitioner } from '../api/partitioner/index.js';
import { parseTopic, topics } from '../wire/topics.js';
import type { Transport } from '../wire/transport.js';
import { ChannelTaskRunner } from './channel-task-runner.js';
import { CreditBatcher } from './credit-batcher.js';
import { DEFAULT_LOCAL_CREDITS, LocalChannel } from './local-channel.js';
import { DEFAULT_REMOTE_CREDITS, RemoteChannel } from './remote-channel.js';
import { DEFAULT_BATCH_SIZE, Router } from './router.js';
import { SourceTaskRunner } from './source-task-runner.js';
import type { HostEvents, TaskHost } from './task-host.js';

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
}

/** Counters of the wire side, for heartbeats, the API and /metrics. */
export interface WireStats {
  framesIn: number;
  framesOut: number;
  /** Frames that failed to decode or named an unknown channel: dropped, counted, logged. */
  framesRejected: number;
  /** Frames from another epoch (zombie tasks after a recovery): dropped and counted. */
  framesFenced: number;
  /** QoS 1 redeliveries recognised by sequence number and dropped. */
  duplicates: number;
  /** Frames whose first sequence number skipped ahead: messages were lost in between. */
  gaps: number;
  lateUndelivered: number;
}

interface Inbound {
  host: ChannelTaskRunner;
  channel: number;
  expectedSeq: number;
  creditKey: string;
  receiver: number;
  /** Frames fully processed: the credit total announced is this plus the window. */
  processed: number;
  /** Whether a frame arrived since the last credit refresh. */
  active: boolean;
  /** A gap was seen: nothing more is taken from this channel until the recovery replaces it. */
  broken: boolean;
}

/**
 * Credit totals are re-announced this often on channels that carried no frame since the last
 * time: that is how a sender that started after our first announcement (and missed it) gets going.
 */
const CREDIT_REFRESH_MS = 500;

/**
 * The part of one application that runs on one node (worker or agent): its local tasks, wired to
 * each other with in-memory channels and to tasks on other nodes with CBOR frames over the
 * transport. The same task hosts as local mode; only the channels differ.
 */
export class AppRuntime {
  readonly app: string;
  readonly hosts = new Map<number, TaskHost>();
  readonly stats: WireStats = { framesIn: 0, framesOut: 0, framesRejected: 0, framesFenced: 0, duplicates: 0, gaps: 0, lateUndelivered: 0 };
  failure: TaskError | null = null;
  private readonly sources: SourceTaskRunner[] = [];
  private readonly inbound = new Map<string, Inbound>();
  private readonly outbound = new Map<string, RemoteChannel>();
  private readonly credits: CreditBatcher;
  private assignment: AppAssignment;
  private readonly log: Logger;
  private unsubscribe: (() => void) | null = null;
  private refresh: NodeJS.Timeout | null = null;
  private failureListeners: ((err: TaskError) => void)[] = [];
  private readonly replayLog: PartReplayLog | null;
  private closed = false;
  private readonly events: HostEvents;

  constructor(private readonly options: AppRuntimeOptions) {
    this.assignment = options.assignment;
    this.app = options.assignment.app;
    this.log = options.log;
    this.replayLog = options.replay?.log ?? null;
    this.events = this.hostEvents();
    this.credits = new CreditBatcher((key, payload) => {
      const [node, addr] = key.split('|');
      this.publish(topics.credit(options.nodeId, node, this.app, addr), payload);
    });
    this.build();
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
    for (const inb of this.inbound.values()) this.announceCredit(inb);
    this.refresh = setInterval(() => this.refreshCredits(), CREDIT_REFRESH_MS);
    void this.finished.then(() => this.stopRefresh());
    await Promise.all(this.sources.map((s) => s.start()));
  }

  private announceCredit(inb: Inbound): void {
    this.credits.announce(inb.creditKey, inb.receiver, inb.processed + DEFAULT_REMOTE_CREDITS);
  }

  private refreshCredits(): void {
    for (const inb of this.inbound.values()) {
      if (!inb.active && inb.host.inputClock !== Infinity) this.announceCredit(inb);
      inb.active = false;
    }
    for (const out of this.outbound.values()) out.tick();
  }

  private stopRefresh(): void {
    if (this.refresh) clearInterval(this.refresh);
    this.refresh = null;
  }

  /** Graceful: sources stop reading and everything downstream drains. */
  stopSources(): void {
    for (const s of this.sources) s.requestStop();
  }

  /** Immediate: tasks are abandoned (the node is stopping or the app was killed). */
  abort(): void {
    this.stopRefresh();
    for (const h of this.hosts.values()) h.abort();
    this.unsubscribe?.();
    this.unsubscribe = null;
  }

  /** Releases the replay log (after finishing or aborting). */
  async close(): Promise<void> {
    this.closed = true;
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
    let msg: AppClockMessage;
    try {
      msg = cborDecoder.decode(payload) as AppClockMessage;
    } catch {
      return;
    }
    const cp = msg?.checkpoint;
    if (this.closed || !cp || cp.epoch !== this.epoch || typeof cp.t !== 'number') return;
    for (const h of this.hosts.values()) h.checkpointComplete(cp.t);
    for (const s of this.sources) {
      s.feed.trim(cp.t, s.emitted).catch((err: Error) => this.log.warn({ err: err.message }, 'trimming the replay log failed'));
    }
  }

  /**
   * Applies a new assignment in place when only remote senders were added (an agent joined):
   * their channels are added to the local receivers. Returns false when the change needs a
   * restart of this node's part (local tasks or receivers moved).
   */
  update(next: AppAssignment): boolean {
    if (next.epoch !== this.assignment.epoch) return false;
    const me = this.options.nodeId;
    const key = (t: TaskPlacement) => `${t.processor}.${t.index}@${t.node}`;
    const before = new Set(this.assignment.tasks.map(key));
    const removed = this.assignment.tasks.some((t) => !next.tasks.some((n) => key(n) === key(t)));
    const added = next.tasks.filter((t) => !before.has(key(t)));
    if (removed || added.some((t) => t.node === me)) return false;
    // New receivers of processors we send to would need new routes: restart for that.
    const receiversOfMine = new Set(this.options.graph.edges.filter((e) => this.tasksOf(e.from).some((t) => t.node === me)).map((e) => e.to));
    if (added.some((t) => receiversOfMine.has(t.processor))) return false;
    const old = this.assignment;
    this.assignment = next;
    for (const e of this.options.graph.edges) {
      for (const r of this.tasksOf(e.to).filter((t) => t.node === me)) {
        for (const s of added.filter((t) => t.processor === e.from)) this.addInbound(r, s);
      }
    }
    this.log.info({ app: this.app, from: old.version, to: next.version, added: added.length }, 'assignment updated in place');
    return true;
  }

  private tasksOf(processor: number, assignment = this.assignment): TaskPlacement[] {
    return assignment.tasks.filter((t) => t.processor === processor).sort((a, b) => a.index - b.index);
  }

  private hostEvents(): HostEvents {
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
      checkpointIntervalMs: cp?.intervalMs ?? 0,
      recovering: cp?.recovery ?? false,
      connectors: this.options.connectors,
      checkpointed: (host, t, state) => this.onCheckpointed(host, t, state),
    };
  }


  private build(): void {
    const { graph, nodeId: me, nodeLabels } = this.options;
    const batchSize = this.options.batchSize ?? DEFAULT_BATCH_SIZE;
    for (const p of graph.processors) {
      const tasks = this.tasksOf(p.id);
      const spec: ProcessorSpec = { ...p, parallelism: Math.max(1, tasks.length) };
      tasks.forEach((t, position) => {
        if (t.node !== me) return;
        const log = this.log.child({ task: `${p.name}#${t.index}` });
        const router = new Router(batchSize);
        const cp = this.assignment.checkpoint;
        const replay = this.replayLog && this.options.replay
          ? { log: this.replayLog.log, name: String(taskAddress(p.id, t.index)), quotaBytes: this.options.replay.quotaBytes, policy: this.options.replay.policy }
          : undefined;
        const host = p.source
          ? new SourceTaskRunner(spec, position, router, log, this.events, {
            batchSize, nodeId: me, nodeLabels: { ...nodeLabels }, replay,
            replayFrom: cp?.recovery && cp.restoreFrom !== null ? cp.restoreFrom : -Infinity,
          })
          : new ChannelTaskRunner(spec, position, router, log, this.events);
        if (host instanceof SourceTaskRunner) this.sources.push(host);
        this.hosts.set(taskAddress(p.id, t.index), host);
      });
    }
    for (const e of graph.edges) {
      const senders = this.tasksOf(e.from);
      const receivers = this.tasksOf(e.to);
      senders.forEach((s, position) => {
        const host = this.hosts.get(taskAddress(s.processor, s.index));
        if (!host) return;
        const channels = receivers.map((r) => {
          const local = r.node === me ? (this.hosts.get(taskAddress(r.processor, r.index)) as ChannelTaskRunner) : null;
          return local ? new LocalChannel(local, local.addChannel(), DEFAULT_LOCAL_CREDITS) : this.remoteChannel(s, r);
        });
        const route = { partitioner: createPartitioner(e.partitioner, position), channels };
        if (e.kind === 'late') host.router.setLateRoute(route);
        else host.router.addRoute(route);
      });
      for (const r of receivers.filter((t) => t.node === me)) {
        for (const s of senders.filter((t) => t.node !== me)) this.addInbound(r, s);
      }
    }
  }

  private addInbound(receiver: TaskPlacement, sender: TaskPlacement): void {
    const rAddr = taskAddress(receiver.processor, receiver.index);
    const sAddr = taskAddress(sender.processor, sender.index);
    const host = this.hosts.get(rAddr) as ChannelTaskRunner;
    const inb: Inbound = { host, channel: host.addChannel(), expectedSeq: 0, creditKey: `${sender.node}|${sAddr}`, receiver: rAddr, processed: 0, active: false, broken: false };
    this.inbound.set(`${rAddr}<${sAddr}`, inb);
    if (this.options.graph.idleTimeoutMs > 0) host.setIdleTimeout(this.options.graph.idleTimeoutMs, [inb.channel]);
    if (this.refresh) this.announceCredit(inb);
  }

  private remoteChannel(sender: TaskPlacement, receiver: TaskPlacement): RemoteChannel {
    const sAddr = taskAddress(sender.processor, sender.index);
    const rAddr = taskAddress(receiver.processor, receiver.index);
    const topic = topics.data(this.options.nodeId, receiver.node, this.app, String(rAddr));
    const channel = new RemoteChannel({ app: this.app, epoch: this.epoch, sender: sAddr }, (bytes) => {
      this.stats.framesOut++;
      this.publish(topic, bytes);
    });
    this.outbound.set(`${sAddr}>${rAddr}`, channel);
    return channel;
  }

  private publish(topic: string, payload: Uint8Array): void {
    this.options.transport.publish(topic, payload, { qos: 1 }).catch((err: Error) => {
      this.log.warn({ err: err.message, topic }, 'publish failed');
    });
  }

  private onMessage(topic: string, payload: Buffer): void {
    const t = parseTopic(topic);
    if (t?.kind === 'appClock' && t.appId === this.app) return this.onAppClock(payload);
    if (!t || (t.kind !== 'data' && t.kind !== 'credit') || t.appId !== this.app || t.to !== this.options.nodeId) return;
    if (t.kind === 'data') this.onFrame(Number(t.taskAddr), payload);
    else this.onCredit(Number(t.taskAddr), payload);
  }

  private onFrame(receiver: number, payload: Buffer): void {
    this.stats.framesIn++;
    let frame;
    try {
      frame = decodeFrame(payload);
    } catch (err) {
      return this.rejectFrame((err as Error).message);
    }
    if (frame.app !== this.app) return this.rejectFrame(`frame for app ${frame.app} on ${this.app}'s topic`);
    if (frame.epoch !== this.epoch) {
      this.stats.framesFenced++;
      return;
    }
    const inb = this.inbound.get(`${receiver}<${frame.sender}`);
    if (!inb) return this.rejectFrame(`no channel from task ${frame.sender} to task ${receiver}`);
    const n = frame.messages.length;
    if (n > 0 && frame.firstSeq < inb.expectedSeq) {
      this.stats.duplicates++;
      return;
    }
    if (inb.broken) return;
    if (frame.firstSeq > inb.expectedSeq) {
      // Lost messages: stop taking this channel, so no window that could hold them fires (its
      // clock stays before them); the master replays from the checkpoint in a new epoch.
      this.stats.gaps++;
      inb.broken = true;
      this.log.warn({ sender: frame.sender, receiver, expected: inb.expectedSeq, got: frame.firstSeq }, 'sequence gap: messages lost on the wire; waiting for recovery');
      return;
    }
    inb.expectedSeq = frame.firstSeq + n;
    inb.active = true;
    inb.host.enqueue({ channel: inb.channel, messages: frame.messages, clock: frame.clock, release: () => {
      inb.processed++;
      this.announceCredit(inb);
    } });
  }

  private onCredit(sender: number, payload: Buffer): void {
    let grants: [number, number][];
    try {
      grants = cborDecoder.decode(payload) as [number, number][];
      if (!Array.isArray(grants)) throw new Error('not an array');
    } catch (err) {
      return this.rejectFrame(`bad credit message: ${(err as Error).message}`);
    }
    for (const g of grants) {
      if (Array.isArray(g)) this.outbound.get(`${sender}>${g[0]}`)?.grant(Number(g[1]) || 0);
    }
  }

  private rejectFrame(reason: string): void {
    const n = ++this.stats.framesRejected;
    if (n <= 10 || n % 1000 === 0) this.log.warn({ app: this.app, rejected: n }, `frame rejected: ${reason}`);
  }
}
