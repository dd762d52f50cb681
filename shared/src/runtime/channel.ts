import type { Message } from '../api/message.js';
import type { EncodedValues } from '../wire/frame-v2.js';

/**
 * A batch as a receiving task sees it: messages from one sender task, followed by that sender's
 * output clock. release() returns the channel's credit once the batch is fully processed.
 */
export interface InboundBatch {
  readonly channel: number;
  readonly messages: readonly Message[];
  readonly clock: number;
  release(): void;
}

export interface BatchReceiver {
  enqueue(batch: InboundBatch): void;
}

/**
 * The sending end of one sender-task -> receiver-task channel. In-process it is a queue hand-off;
 * across processes it is a frame on the wire. Either way it is credit-based: a sender that sees
 * whenWritable() return a promise waits for it before taking more input, so a slow receiver
 * slows its producers instead of growing memory.
 */
export interface OutChannel {
  /**
   * `values`: the sending task's input batch's values, already encoded (a source's replay-log
   * batch), offered for reuse; a remote channel writes them as they are when `messages` carry
   * exactly those values. In-process channels ignore it.
   */
  send(messages: Message[], clock: number, values?: EncodedValues | null): void;
  /** null while the channel has credit; otherwise a promise that resolves when it has again. */
  whenWritable(): Promise<void> | null;
}
