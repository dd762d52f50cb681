import { cborEncoder } from '../codec/cbor.js';

/**
 * Coalesces credit grants: many frames processed in one turn of the event loop cost one credit
 * message per sending task, not one per frame. Payload: CBOR array of [receiverAddr, frames].
 */
export class CreditBatcher {
  private pending = new Map<string, Map<number, number>>();
  private scheduled = false;

  constructor(private readonly send: (topicKey: string, payload: Uint8Array) => void) {}

  /** `topicKey` identifies the sending task (its node and address); `receiver` is ours. */
  grant(topicKey: string, receiver: number): void {
    let byReceiver = this.pending.get(topicKey);
    if (!byReceiver) this.pending.set(topicKey, (byReceiver = new Map()));
    byReceiver.set(receiver, (byReceiver.get(receiver) ?? 0) + 1);
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
