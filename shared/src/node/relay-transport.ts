import { Buffer } from 'node:buffer';
import type { MessageHandler, PublishOptions, Transport } from '../wire/transport.js';

/**
 * The transport an application's runtime gets on a node: the node owns the one MQTT connection and
 * its subscriptions (one client id per node keeps the broker ACL simple), relays the messages for
 * this application in (deliver), and takes its publishes out. Subclasses say how publishes leave:
 * over the worker thread's port (PortTransport) or straight to the node (inline applications).
 */
export abstract class RelayTransport implements Transport {
  private readonly handlers = new Set<MessageHandler>();

  constructor(readonly clientId: string) {}

  get connected(): boolean {
    return true;
  }

  /** Called by the node (or the thread's message loop) for every message for this application. */
  deliver(topic: string, payload: Uint8Array): void {
    const buf = Buffer.isBuffer(payload) ? payload : Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
    for (const h of this.handlers) h(topic, buf);
  }

  abstract publish(topic: string, payload: Uint8Array | string, opts?: PublishOptions): Promise<void>;

  async subscribe(): Promise<void> {}

  async unsubscribe(): Promise<void> {}

  onMessage(handler: MessageHandler): () => void {
    this.handlers.add(handler);
    return () => this.handlers.delete(handler);
  }

  onStatus(): () => void {
    return () => {};
  }

  async close(): Promise<void> {
    this.handlers.clear();
  }
}
