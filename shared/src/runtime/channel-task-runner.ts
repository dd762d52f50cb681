import type { InboundBatch, BatchReceiver } from './channel.js';
import { TaskHost } from './task-host.js';
import type { Timer } from './wall-clock.js';

/**
 * Hosts a task fed by channels from upstream tasks. Input batches queue in an inbox and are
 * processed one at a time: messages to onNext (records behind the clock to the late output), then
 * the channel's clock, then the flush. The batch's credit is returned only after the task's
 * onBatchEnd I/O completes, so back-pressure reaches the sender.
 */
export class ChannelTaskRunner extends TaskHost implements BatchReceiver {
  private readonly inbox: InboundBatch[] = [];
  private head = 0;
  /** performance.now() when each inbox entry arrived, in step with `inbox`: processing latency. */
  private readonly arrivedAt: number[] = [];
  private draining = false;
  private started = false;
  private readonly channelClocks: number[] = [];
  /** Idle-source timeout: wall time of each channel's last batch, and which channels may idle out. */
  private readonly lastActive: number[] = [];
  private idleTimeoutMs = 0;
  private idleCandidates = new Set<number>();
  private idleTimer: Timer | null = null;

  override queued(): number {
    return this.inbox.length - this.head;
  }

  /** Registers one more inbound channel; returns its index. Called while wiring, before start. */
  addChannel(): number {
    this.channelClocks.push(-Infinity);
    this.lastActive.push(this.clock.now());
    return this.channelClocks.length - 1;
  }

  /**
   * Channels in `channels` (from other nodes: a device that may go offline) that carry nothing
   * for `ms` stop holding this task's clock back, so the rest of the application progresses.
   * When they come back, what they bring behind the clock goes to the late-data output, counted.
   */
  setIdleTimeout(ms: number, channels: readonly number[]): void {
    this.idleTimeoutMs = ms;
    for (const c of channels) this.idleCandidates.add(c);
    if (ms > 0 && !this.idleTimer && this.idleCandidates.size > 0) {
      this.idleTimer = this.clock.setInterval(() => this.enqueue({ channel: -1, messages: [], clock: -Infinity, release: () => {} }), Math.max(50, ms / 4));
      void this.finished.then(() => this.idleTimer?.cancel());
    }
  }

  override async start(): Promise<void> {
    await super.start();
    this.started = true;
    this.kick();
  }

  enqueue(batch: InboundBatch): void {
    this.arrivedAt.push(performance.now());
    const depth = this.inbox.push(batch) - this.head;
    if (depth > this.metrics.maxQueued) this.metrics.maxQueued = depth;
    this.kick();
  }

  private kick(): void {
    if (this.draining || !this.started || this.stopped) return;
    this.draining = true;
    // Deferred so a sender never re-enters this task from inside its own flush.
    queueMicrotask(() => void this.drain());
  }

  private async drain(): Promise<void> {
    try {
      while (this.head < this.inbox.length && !this.stopped) {
        await this.awaitCredit();
        const batch = this.inbox[this.head];
        const arrived = this.arrivedAt[this.head];
        this.inbox[this.head++] = undefined as unknown as InboundBatch;
        if (this.head > 1024 && this.head * 2 > this.inbox.length) this.compact();
        const io = this.process(batch);
        if (io) await io;
        // One sample per input batch (not the idle timer's ticks): inbox wait + processing + I/O.
        if (batch.channel >= 0) this.metrics.processingLatency.record(performance.now() - arrived);
        batch.release();
        if (this.inputClock === Infinity) await this.finish();
      }
    } catch (err) {
      this.fail(err);
    } finally {
      this.draining = false;
    }
  }

  private process(batch: InboundBatch): void | Promise<void> {
    const { messages } = batch;
    const task = this.task;
    // Records on their way to the late-data sink are behind the clock by definition.
    const clock = this.spec.isLateSink ? -Infinity : this.inputClock;
    this.metrics.in += messages.length;
    if (messages.length > 0) {
      // Probes, per batch: event-time latency of its last record, and a sample of its keys.
      this.metrics.eventLatency.record(this.clock.now() - messages[messages.length - 1].ts);
      this.metrics.keys.sample(messages);
    }
    for (let i = 0; i < messages.length; i++) {
      const msg = messages[i];
      if (msg.ts < clock) this.divertLate(msg);
      else task.onNext(msg);
    }
    const clocks = this.channelClocks;
    // Channel -1: a tick of the idle-source timer, no input.
    if (batch.channel >= 0) {
      if (batch.clock > clocks[batch.channel]) clocks[batch.channel] = batch.clock;
      this.lastActive[batch.channel] = this.idleTimeoutMs > 0 ? this.clock.now() : 0;
    }
    this.advanceClock(this.idleTimeoutMs > 0 ? this.minClockSkippingIdle() : minOf(clocks));
    return this.endBatch();
  }

  private minClockSkippingIdle(): number {
    const clocks = this.channelClocks;
    const idleBefore = this.clock.now() - this.idleTimeoutMs;
    let min = Infinity;
    let counted = 0;
    for (let i = 0; i < clocks.length; i++) {
      if (clocks[i] === Infinity) continue;
      if (this.idleCandidates.has(i) && this.lastActive[i] < idleBefore) continue;
      counted++;
      if (clocks[i] < min) min = clocks[i];
    }
    // Every live input idle: hold the clock where it is (nothing proves time moved on).
    return counted > 0 || clocks.every((c) => c === Infinity) ? min : this.inputClock;
  }

  override abort(): void {
    this.idleTimer?.cancel();
    super.abort();
  }

  private compact(): void {
    this.inbox.splice(0, this.head);
    this.arrivedAt.splice(0, this.head);
    this.head = 0;
  }
}

/** The min-clock over channels; no inputs wired yet (an upstream with no tasks placed) means no promise yet. */
function minOf(clocks: readonly number[]): number {
  let min = clocks.length > 0 ? Infinity : -Infinity;
  for (let i = 0; i < clocks.length; i++) if (clocks[i] < min) min = clocks[i];
  return min;
}
