import type { MessagePort } from 'node:worker_threads';
import type { TaskReport } from '../wire/assignment.js';
import type { MessageHandler, PublishOptions, QoS, Transport } from '../wire/transport.js';

/** Messages between a node's main thread and an application's worker thread. */
export type ToAppThread =
  | { type: 'message'; topic: string; payload: Uint8Array }
  | { type: 'update'; assignment: unknown }
  | { type: 'stop'; drain: boolean };

export type FromAppThread =
  | { type: 'publish'; topic: string; payload: Uint8Array; qos: QoS; retain: boolean }
  | { type: 'state'; state: 'running' | 'finished' | 'failed'; error?: { code: string; message: string } }
  | { type: 'stats'; tasks: TaskReport[]; wire: Record<string, number>; replay?: AppReplayStats }
  | { type: 'updated'; ok: boolean }
  | { type: 'closed' };

/** One application's replay logs on a node (summed over its sources). */
export interface AppReplayStats {
  backlogRecords: number;
  bytes: number;
  diskBytes: number;
  dropped: number;
  blocked: boolean;
}

/**
 * The transport as an application's worker thread sees it: publishes go to the node's main
 * thread, which owns the one MQTT connection (one client id per node keeps the broker ACL
 * simple); messages for this application come back the same way. Subscriptions are the node's.
 */
export class PortTransport implements Transport {
  readonly clientId: string;
  private readonly handlers = new Set<MessageHandler>();

  constructor(private readonly port: MessagePort, clientId: string) {
    this.clientId = clientId;
  }

  get connected(): boolean {
    return true;
  }

  /** Called by the thread's message loop for every relayed message. */
  deliver(topic: string, payload: Uint8Array): void {
    const buf = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
    for (const h of this.handlers) h(topic, buf);
  }

  async publish(topic: string, payload: Uint8Array | string, opts: PublishOptions = {}): Promise<void> {
    const bytes = typeof payload === 'string' ? Buffer.from(payload) : payload;
    const msg: FromAppThread = { type: 'publish', topic, payload: bytes, qos: opts.qos ?? 1, retain: opts.retain ?? false };
    this.port.postMessage(msg);
  }

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
