import { cborEncoder } from '../wire/cbor.js';

/**
 * Coalesces credit announcements: many frames processed in one turn of the event loop cost one
 * credit message per sending task, not one per frame. Payload: CBOR array of
 * [receiverAddr, totalFramesAllowed]; totals only grow, so the latest one is all that matters.
 */
export class CreditBatcher {
  private pending = new Map<string, Map<number, number>>();
  private scheduled = false;

  constructor(private readonly send: (topicKey: string, payload: Uint8Array) => void) {}

  /** `topicKey` identifies the sending task (its node and address); `receiver` is ours. */
  announce(topicKey: string, receiver: number, total: number): void {
    let byReceiver = this.pending.get(topicKey);
    if (!byReceiver) this.pending.set(topicKey, (byReceiver = new Map()));
    if (total > (byReceiver.get(receiver) ?? 0)) byReceiver.set(receiver, total);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.flush);
    }
  }

  private readonly flush = (): void => {
    this.scheduled = false;
    const pending = this.pending;
    this.pending = new Map();
    for (const [key, byReceiver] of pending) this.send(key, cborEncoder.encode([...byReceiver]));
  };
}
