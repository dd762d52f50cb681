import type { Message } from '../api/message.js';
import type { BatchReceiver, OutChannel } from './channel.js';
import { CreditGate } from './credit-gate.js';

/**
 * Default credit per in-process channel, in batches. 16 batches in flight keep the receiver busy
 * while the sender works, and bound a slow consumer's queue to 16 batches per channel (of up to
 * 4,096 messages; local mode's sources read 1,024 at a time, router.ts).
 */
export const DEFAULT_LOCAL_CREDITS = 16;

/** An in-process channel: batches are handed over as arrays of the same message objects. */
export class LocalChannel implements OutChannel {
  private credits: number;
  private readonly gate = new CreditGate();

  constructor(private readonly target: BatchReceiver, private readonly channel: number, credits = DEFAULT_LOCAL_CREDITS) {
    this.credits = credits;
  }

  send(messages: Message[], clock: number): void {
    this.credits--;
    this.target.enqueue({ channel: this.channel, messages, clock, release: this.release });
  }

  whenWritable(): Promise<void> | null {
    return this.gate.whenOpen(this.credits);
  }

  private readonly release = (): void => {
    this.credits++;
    this.gate.open(this.credits);
  };
}
