import { encodeFrame } from '../wire/frame.js';
import { sameValues, type EncodedValues } from '../wire/frame-v2.js';
import type { Message } from '../api/message.js';
import type { OutChannel } from './channel.js';
import { CreditGate } from './credit-gate.js';

/**
 * Frames in flight per remote channel. A credit makes a round trip receiver -> broker -> sender,
 * crossing each node's app thread and main thread: ~10-30 ms on a busy 2-core box. 32 frames (of up
 * to 4,096 messages; a source's batches aim at 256 KiB, so ~8 MB at most) keep that pipe full, and bound
 * what one slow receiver can make the broker and the sender hold. The broker is never trusted to do
 * flow control (Mosquitto drops QoS 1 to slow subscribers at its defaults).
 */
export const DEFAULT_REMOTE_CREDITS = 32;

export interface RemoteChannelHeader {
  readonly app: string;
  readonly epoch: number;
  /** Short address of the sending task. */
  readonly sender: number;
}

/**
 * The sending end of a channel to a task in another process: each batch becomes one CBOR frame
 * published at QoS 1 with the channel's next sequence number.
 *
 * Credits are cumulative: the receiver announces the total number of frames it allows (frames
 * processed + its window), and the sender may have sent up to that total. A channel starts with
 * none, so nothing is sent before the receiving task is running and listening; a lost or early
 * announcement is healed by any later one, since totals only grow.
 */
export class RemoteChannel implements OutChannel {
  private granted = 0;
  private sent = 0;
  private seq = 0;
  private readonly gate = new CreditGate();
  private lastClock = -Infinity;
  private sentSinceTick = false;
  private probeDue = false;
  framesSent = 0;
  probesSent = 0;
  /** Frames whose values section was the replay log's bytes, not encoded again (encode once). */
  framesReusingValues = 0;

  constructor(
    private readonly header: RemoteChannelHeader,
    /** `reusedValues`: the frame's values section is bytes encoded before (encode once). */
    private readonly publish: (frame: Uint8Array, reusedValues: boolean) => void,
  ) {}

  private get credits(): number {
    return this.granted - this.sent;
  }

  /** `values`: see OutChannel.send; reused when they are exactly these messages' values. */
  send(messages: Message[], clock: number, values?: EncodedValues | null): void {
    const { app, epoch, sender } = this.header;
    const reuse = values != null && messages.length > 0 && sameValues(messages, values);
    const bytes = encodeFrame({ app, epoch, sender, firstSeq: this.seq, clock, messages }, undefined, reuse ? values : null);
    if (reuse) this.framesReusingValues++;
    this.seq += messages.length;
    this.sent++;
    this.framesSent++;
    this.lastClock = clock;
    this.sentSinceTick = true;
    this.publish(bytes, reuse);
  }

  /**
   * AckRequest, called on a timer: sequence numbers reveal a lost frame only when a later one
   * arrives, so a frame lost just before the channel falls silent would go unnoticed. Once a
   * channel that sent frames has been silent for a whole tick, one empty frame carrying the next
   * sequence number (and the same clock) follows: the receiver takes it as a clock step, or sees
   * the gap. Nothing after the end of the stream (clock +Infinity), nothing without credit (then
   * frames are unprocessed, not lost: the receiver's credit re-announcement follows them).
   */
  tick(): void {
    if (this.sentSinceTick) {
      this.sentSinceTick = false;
      this.probeDue = true;
      return;
    }
    if (!this.probeDue || this.lastClock === Infinity || this.credits <= 0) return;
    this.probeDue = false;
    this.probesSent++;
    this.send([], this.lastClock);
    this.sentSinceTick = false;
  }

  whenWritable(): Promise<void> | null {
    return this.gate.whenOpen(this.credits);
  }

  /** The receiver allows `total` frames in all on this channel. */
  grant(total: number): void {
    if (total > this.granted) this.granted = total;
    this.gate.open(this.credits);
  }
}
