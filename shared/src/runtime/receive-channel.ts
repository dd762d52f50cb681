import { DEFAULT_REMOTE_CREDITS } from './remote-channel.js';

/**
 * What to do with a frame on one inbound channel:
 * - `deliver`: the next frames in sequence (or an empty clock step / AckRequest): hand them on;
 * - `duplicate`: a redelivery (QoS 1 is at-least-once) or a stale reordered frame: drop, count;
 * - `gap`: the first sequence number skipped ahead, messages were lost: the channel freezes;
 * - `frozen`: the channel froze on an earlier gap: nothing more is taken until recovery.
 */
export type ReceiveVerdict = 'deliver' | 'duplicate' | 'gap' | 'frozen';

/**
 * The receiving end of one remote sender-task -> receiver-task channel (Gearpump's Subscription):
 * sequence numbers, duplicates, gaps and the credit total to announce. Pure: no I/O, no timers.
 * FrameReceiver calls accept() for every decoded frame of this channel; the runtime calls
 * released() when the task has processed a delivered frame and announces the total it returns.
 *
 * Credits are cumulative (see RemoteChannel): the total the sender may have sent is the frames
 * processed here plus the window, so a lost announcement is healed by any later one. They are
 * announced every half window of frames processed, not after each: a credit message per frame
 * was half of what crossed the broker at 10 k records/s (a frame per millisecond), and the sender
 * still never waits with less than half its window in flight (see released()).
 */
export class ReceiveChannel {
  /** Sequence number the next frame must start at. */
  private expected = 0;
  /** Frames fully processed by the task. */
  private processed = 0;
  /** Whether a frame was delivered since the last refreshDue(). */
  private active = false;
  /** Whether any frame was ever delivered (the sender has our credit). */
  private delivered = false;
  private frozen = false;
  /** Frames processed between two announcements. */
  private readonly every: number;

  constructor(readonly window = DEFAULT_REMOTE_CREDITS) {
    this.every = Math.max(1, Math.floor(window / 2));
  }

  get expectedSeq(): number {
    return this.expected;
  }

  /** True once a gap was seen; the master's recovery replaces the channel in a new epoch. */
  get broken(): boolean {
    return this.frozen;
  }

  /** A frame has arrived on this channel: its sender has heard our credit. */
  get heard(): boolean {
    return this.delivered;
  }

  /** The credit total to announce: frames processed plus the window. */
  get creditTotal(): number {
    return this.processed + this.window;
  }

  /** Judges a frame of `count` messages starting at `firstSeq`; on `deliver` it is taken. */
  accept(firstSeq: number, count: number): ReceiveVerdict {
    // An empty frame behind the sequence is a stale clock step or AckRequest (reordered or
    // redelivered): taking it would move the expected number back and fake a gap later.
    if (firstSeq < this.expected) return 'duplicate';
    if (this.frozen) return 'frozen';
    if (firstSeq > this.expected) {
      // Lost messages: stop taking this channel, so no window that could hold them fires (its
      // clock stays before them); the master replays from the checkpoint in a new epoch.
      this.frozen = true;
      return 'gap';
    }
    this.expected = firstSeq + count;
    this.active = true;
    this.delivered = true;
    return 'deliver';
  }

  /**
   * A delivered frame was fully processed; returns the credit total to announce, or null when
   * none is due: every `window / 2` frames. The last total announced is then at least
   * processed + window - every + 1, so a sender blocked on credit has at least `every` frames in
   * flight, whose processing brings the next announcement; a sender that stops early is told
   * the exact total by the refresh tick (refreshDue).
   */
  released(): number | null {
    this.processed++;
    return this.processed % this.every === 0 ? this.creditTotal : null;
  }

  /**
   * Called on every credit-refresh tick: true when no frame arrived since the last tick, so the
   * total is worth announcing again (a sender that started late may have missed it).
   */
  refreshDue(): boolean {
    const due = !this.active;
    this.active = false;
    return due;
  }
}
