import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { ProcessorSpec } from '../api/dag/graph.js';
import type { Logger } from '../log/log.js';
import { isEventTime } from '../api/message.js';
import type { DeviceClockState, DeviceLag } from '../api/clock/device-watermark.js';
import type { Source } from '../api/source/source.js';
import { createSource } from '../api/connectors.js';
import type { Router } from './router.js';
import { DEFAULT_BATCH_SIZE } from './router.js';
import { TaskHost, type HostEvents } from './task-host.js';
import { SourceFeed, type ReplayOptions } from './source-feed.js';
import { SourceClock } from './source-clock.js';

export interface SourceRunnerOptions {
  /**
   * Records per read, fixed. Absent: sized by the feed (SourceFeed.readSize: by bytes, up to
   * DEFAULT_BATCH_SIZE, with a replay log).
   */
  batchSize?: number;
  nodeId?: string;
  nodeLabels?: Record<string, string>;
  /** Log first, then send: the source's records go to this replay log before the task sees them. */
  replay?: ReplayOptions;
  /**
   * Restarting from checkpoint time t: replay the log from t (-Infinity: all it holds). Records
   * before t that were on time are already in the restored state and are skipped.
   */
  replayFrom?: number;
  /** The application's idle timeout (pipeline idleTimeoutMs): a device silent longer in event time stops holding the clock back. */
  idleTimeoutMs?: number;
}

/** Rejections logged one by one before only the count goes on. */
const REJECT_LOG_LIMIT = 10;
/**
 * Read times kept for processing latency: batches read but not yet emitted. A batch read while
 * more are waiting (a long store-and-forward backlog) gets no processing sample; its wait shows
 * in its event-time latency and in the replay backlog.
 */
const READ_TIMES = 256;

/**
 * Hosts a source processor's task: reads the source a batch at a time and feeds the task. The
 * source's clock (its watermark) is this task's input clock. A record older than that clock
 * breaks the source's promise and goes to the late output; the check is per record, so which
 * records are late does not depend on how reads happen to be batched.
 */
export class SourceTaskRunner extends TaskHost {
  private sourceClosed: Promise<void> | null = null;
  private readonly source: Source;
  private readonly watermark: SourceClock;
  /** An explicit batch size (reads of exactly up to it), or null: the feed sizes each read. */
  private readonly batchSize: number | null;
  private stopRequested = false;
  readonly feed: SourceFeed;
  /** Sequence number of the next record the task gets (everything before went downstream). */
  emitted = 0;
  private skipBefore = -Infinity;
  /**
   * Processing latency: a ring of the batches read from the source and not yet emitted, each as
   * its sequence range [readStart, readEnd) and the performance.now() it was read at (oldest at
   * readHead). Fixed arrays: nothing allocated per batch.
   */
  private readonly readStart = new Float64Array(READ_TIMES);
  private readonly readEnd = new Float64Array(READ_TIMES);
  private readonly readAt = new Float64Array(READ_TIMES);
  private readHead = 0;
  private readCount = 0;
  /** Sequence number the reader's next batch gets in the feed. */
  private readSeq = 0;

  constructor(spec: ProcessorSpec, index: number, router: Router, log: Logger, events: HostEvents, private readonly options: SourceRunnerOptions = {}) {
    super(spec, index, router, log, events);
    if (!spec.source) throw new TypeError(`processor ${spec.name} has no source`);
    this.source = createSource(spec.source, events.connectors);
    this.watermark = new SourceClock(spec.source.watermark, options.idleTimeoutMs ?? 0, events.checkpointIntervalMs ?? 0);
    this.batchSize = options.batchSize ?? null;
    // A source that can resume from a position keeps what it has not handed over: it may be paced.
    this.feed = new SourceFeed(options.replay ?? null, this.clock, typeof this.source.position === 'function');
  }

  override async start(): Promise<void> {
    const ok = await this.guard(async () => {
      const resumeFrom = await this.feed.open();
      const replay = this.options.replay;
      // The feed numbers this run's reads on from the log's end (from 0 without a log).
      if (replay) this.readSeq = (await replay.log.stats(replay.name)).nextSeq;
      const from = this.options.replayFrom ?? -Infinity;
      const { seq, maxTsBefore } = await this.feed.replayStart(from);
      this.emitted = seq;
      this.skipBefore = from;
      // The watermark the original run had at that point, so replayed records are judged late or
      // on time exactly as they were the first time.
      // (A clock per device comes back with the checkpoint instead, see SourceClock.)
      this.watermark.restoreNewest(maxTsBefore);
      await this.source.open({
        resumeFrom,
        taskIndex: this.id.index,
        parallelism: this.spec.parallelism,
        log: this.log,
        nodeId: this.options.nodeId ?? 'local',
        nodeLabels: this.options.nodeLabels ?? {},
        app: this.events.app ?? '', processor: this.spec.name,
        reject: (reason, detail) => this.reject(reason, detail),
      });
      await this.task.onStart(this.inputClock);
    });
    if (ok) void this.run();
  }

  /** Ends reading at the next batch boundary; the input then counts as ended (clock +Infinity). */
  requestStop(): void {
    this.stopRequested = true;
  }

  private async run(): Promise<void> {
    void this.read();
    let batches = 0;
    const reuseValues = this.task.passesValuesThrough;
    try {
      while (!this.stopped) {
        await this.awaitCredit();
        const batch = await this.feed.next(this.emitted);
        if (batch === null || this.stopped) break;
        this.emitted = batch.firstSeq + batch.records.length;
        // Encode once: while this batch is processed, its encoded values go with every send.
        this.router.origin = reuseValues ? batch.values ?? null : null;
        const io = this.process(batch.records);
        this.router.origin = null;
        if (io) await io;
        this.recordProcessing(batch.firstSeq);
        // Reads that never touch the disk resolve as microtasks; yield now and then so timers,
        // signals and sockets are served.
        if (++batches % 16 === 0) await yieldToEventLoop();
      }
      await this.finish();
    } catch (err) {
      this.fail(err);
    }
  }

  /** The reader: source -> replay log, independent of downstream credit (store-and-forward). */
  private async read(): Promise<void> {
    let batches = 0;
    try {
      while (!this.stopRequested && !this.stopped) {
        const records = await this.source.read(this.batchSize ?? this.feed.readSize(DEFAULT_BATCH_SIZE));
        if (records === null || this.stopped) break;
        if (records.length > 0) {
          this.noteRead(records.length);
          await this.feed.push(records, this.watermark.current(), this.source.position?.());
        }
        if (++batches % 16 === 0) await yieldToEventLoop();
      }
      this.feed.end();
    } catch (err) {
      this.feed.end(err);
    } finally {
      await this.closeSource();
    }
  }

  /** Reader side: the time a batch was read, before the feed logs it. */
  private noteRead(n: number): void {
    const start = this.readSeq;
    this.readSeq += n;
    if (this.readCount === READ_TIMES) return;
    const i = (this.readHead + this.readCount++) % READ_TIMES;
    this.readStart[i] = start;
    this.readEnd[i] = this.readSeq;
    this.readAt[i] = performance.now();
  }

  /**
   * Emitter side, once a batch's processing and I/O are done: processing latency is the time
   * since it was read (its replay-log append, its wait in the feed for credit, then processing
   * and I/O), as a channel-fed task's runs from its arrival in the inbox. Batches replayed from
   * before this run (a restart) were not read by it: no sample.
   */
  private recordProcessing(firstSeq: number): void {
    while (this.readCount > 0 && this.readEnd[this.readHead] <= firstSeq) this.popRead();
    if (this.readCount === 0 || this.readStart[this.readHead] > firstSeq) return;
    this.metrics.processingLatency.record(performance.now() - this.readAt[this.readHead]);
    this.popRead();
  }

  private popRead(): void {
    this.readHead = (this.readHead + 1) % READ_TIMES;
    this.readCount--;
  }

  private process(records: readonly { ts: number; key?: unknown; value: unknown }[]): void | Promise<void> {
    const wm = this.watermark;
    const task = this.task;
    wm.beforeBatch(records);
    const skipBefore = this.skipBefore;
    this.metrics.in += records.length;
    // Event-time latency, once per batch as in channel-fed tasks: now minus its last record's
    // event time (a record without a valid one is rejected below, not measured).
    const lastTs = records.length > 0 ? records[records.length - 1].ts : undefined;
    if (isEventTime(lastTs)) this.metrics.eventLatency.record(this.clock.now() - lastTs);
    for (let i = 0; i < records.length; i++) {
      const msg = records[i];
      if (!isEventTime(msg.ts)) {
        this.reject('record without a valid integer timestamp', msg.ts);
      } else if (!wm.judge(msg)) {
        this.divertLate(msg);
      } else {
        // On time but before the checkpoint restored: already in the state.
        if (msg.ts >= skipBefore) task.onNext(msg);
      }
    }
    this.advanceClock(wm.current());
    return this.endBatch();
  }

  /** Checkpoint state: the task's, plus (a clock per device) the clock state a replay from t starts with. */
  protected override snapshotState(t: number): unknown {
    const task = this.task.snapshot(t);
    if (!this.watermark.devices) return task;
    return { task: task ?? null, deviceClock: this.watermark.snapshotFor(t) };
  }

  protected override restoreState(state: unknown): void {
    if (!this.watermark.devices) return this.task.restore(state);
    const s = state as { task?: unknown; deviceClock?: DeviceClockState | null } | null;
    if (!s?.deviceClock) this.log.warn({ source: this.spec.source!.name }, 'checkpoint without the per-device clock state: the replay starts every device afresh');
    this.watermark.restore(s?.deviceClock);
    if (s?.task !== null && s?.task !== undefined) this.task.restore(s.task);
  }

  /** The devices holding this source's clock back the most (empty without a clock per device). */
  laggards(n = 10): DeviceLag[] {
    return this.watermark.laggards(n);
  }

  private reject(reason: string, detail: unknown): void {
    const n = ++this.metrics.rejected;
    if (n <= REJECT_LOG_LIMIT) this.log.warn({ source: this.spec.source!.name, detail }, `rejected input record: ${reason}`);
    if (n === REJECT_LOG_LIMIT) this.log.warn({ source: this.spec.source!.name }, 'further rejected records are only counted');
  }

  protected override async release(): Promise<void> {
    await Promise.all([super.release(), this.closeSource()]);
  }

  /** Once: the reader's end and an abort may both ask. */
  private closeSource(): Promise<void> {
    this.sourceClosed ??= (async () => {
      try {
        await this.source.close();
      } catch (err) {
        this.log.warn({ err }, `closing source ${this.spec.source!.name} failed`);
      }
    })();
    return this.sourceClosed;
  }
}
