import { decodeFrame, type Frame } from '../wire/frame.js';
import { ReceiveChannel, type ReceiveVerdict } from './receive-channel.js';

/** What FrameReceiver.receive() decided about one data message, with what it needs to act. */
export type Receipt<T> =
  | { readonly kind: ReceiveVerdict; readonly frame: Frame; readonly channel: ReceiveChannel; readonly target: T }
  /** A frame of another epoch (a zombie task after a recovery): drop, count. */
  | { readonly kind: 'fenced'; readonly frame: Frame }
  /** Undecodable, another application's, or for no known channel: drop, count, log. */
  | { readonly kind: 'reject'; readonly reason: string };

/**
 * The receive protocol of one application on one node, over all its inbound remote channels:
 * decodes a data message, fences other epochs, finds the channel (receiver task, sender task) and
 * lets its ReceiveChannel judge the sequence numbers. Pure: WireChannels feeds it the payloads of
 * data topics and acts on the receipts; `T` is what the caller attaches to a channel (the
 * receiving task and its channel index).
 */
export class FrameReceiver<T> {
  private readonly channels = new Map<string, { channel: ReceiveChannel; target: T; senderNode?: string }>();

  constructor(readonly app: string, readonly epoch: number) {}

  /**
   * Adds the channel from task `sender` to task `receiver` (addresses); returns its state.
   * `senderNode`: the node hosting the sender task; frames for this channel published by any
   * other node are rejected (the broker's ACL makes the topic's first level the authenticated
   * publisher, so a device cannot speak for a task it does not host).
   */
  add(receiver: number, sender: number, target: T, window?: number, senderNode?: string): ReceiveChannel {
    const channel = new ReceiveChannel(window);
    this.channels.set(key(receiver, sender), { channel, target, ...(senderNode === undefined ? {} : { senderNode }) });
    return channel;
  }

  get(receiver: number, sender: number): ReceiveChannel | undefined {
    return this.channels.get(key(receiver, sender))?.channel;
  }

  entries(): IterableIterator<{ channel: ReceiveChannel; target: T }> {
    return this.channels.values();
  }

  /** A data message for task `receiver`, published by node `from` (the topic's publisher level): what to do with it. */
  receive(receiver: number, payload: Uint8Array, from?: string): Receipt<T> {
    let frame: Frame;
    try {
      frame = decodeFrame(payload);
    } catch (err) {
      return { kind: 'reject', reason: (err as Error).message };
    }
    return this.receiveFrame(receiver, frame, from);
  }

  /** As receive(), for a decoded frame. */
  receiveFrame(receiver: number, frame: Frame, from?: string): Receipt<T> {
    if (frame.app !== this.app) return { kind: 'reject', reason: `frame for app ${frame.app} on ${this.app}'s topic` };
    if (frame.epoch !== this.epoch) return { kind: 'fenced', frame };
    const entry = this.channels.get(key(receiver, frame.sender));
    if (!entry) return { kind: 'reject', reason: `no channel from task ${frame.sender} to task ${receiver}` };
    if (from !== undefined && entry.senderNode !== undefined && from !== entry.senderNode) {
      return { kind: 'reject', reason: `frame for task ${frame.sender} -> ${receiver} published by node ${from}, but task ${frame.sender} runs on ${entry.senderNode}` };
    }
    const kind = entry.channel.accept(frame.firstSeq, frame.messages.length);
    return { kind, frame, channel: entry.channel, target: entry.target };
  }
}

function key(receiver: number, sender: number): string {
  return `${receiver}<${sender}`;
}
