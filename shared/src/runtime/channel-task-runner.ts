import type { InboundBatch, BatchReceiver } from './channel.js';
import { TaskHost } from './task-host.js';

/**
 * Hosts a task fed by channels from upstream tasks. Input batches queue in an inbox and are
 * processed one at a time: messages to onNext (records behind the clock to the late output), then
 * the channel's clock, then the flush. The batch's credit is returned only after the task's
 * onBatchEnd I/O completes, so back-pressure reaches the sender.
 */
export class ChannelTaskRunner extends TaskHost implements BatchReceiver {
  private readonly inbox: InboundBatch[] = [];
  private head = 0;
  private draining = false;
  private started = false;
  private readonly channelClocks: number[] = [];

  override queued(): number {
    return this.inbox.length - this.head;
  }

  /** Registers one more inbound channel; returns its index. Called while wiring, before start. */
  addChannel(): number {
    this.channelClocks.push(-Infinity);
    return this.channelClocks.length - 1;
  }

  override async start(): Promise<void> {
    await super.start();
    this.started = true;
    this.kick();
  }

  enqueue(batch: InboundBatch): void {
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
        this.inbox[this.head++] = undefined as unknown as InboundBatch;
        if (this.head > 1024 && this.head * 2 > this.inbox.length) this.compact();
        const io = this.process(batch);
        if (io) await io;
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
    for (let i = 0; i < messages.length; i++) {
      const msg = messages[i];
      if (msg.ts < clock) this.divertLate(msg);
      else task.onNext(msg);
    }
    const clocks = this.channelClocks;
    if (batch.clock > clocks[batch.channel]) clocks[batch.channel] = batch.clock;
    // No inputs wired yet (an upstream with no tasks placed) means no promise about the clock yet.
    let min = clocks.length > 0 ? Infinity : -Infinity;
    for (let i = 0; i < clocks.length; i++) if (clocks[i] < min) min = clocks[i];
    this.advanceClock(min);
    return this.endBatch();
  }

  private compact(): void {
    this.inbox.splice(0, this.head);
    this.head = 0;
  }
}
