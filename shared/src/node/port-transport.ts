import type { MessagePort } from 'node:worker_threads';
import type { TaskReport } from '../wire/assignment.js';
import type { PublishOptions, QoS } from '../wire/transport.js';
import { RelayTransport } from './relay-transport.js';

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
  | { type: 'closed' }
  /** A standby thread has evaluated its bundle and built the graph, in `ms` since the thread began. */
  | { type: 'standby'; ms: number };

/** One application's replay logs on a node (summed over its sources). */
export interface AppReplayStats {
  backlogRecords: number;
  bytes: number;
  diskBytes: number;
  dropped: number;
  blocked: boolean;
}

/** The transport as an application's worker thread sees it: publishes go to the node's main thread. */
export class PortTransport extends RelayTransport {
  constructor(private readonly port: MessagePort, clientId: string) {
    super(clientId);
  }

  /**
   * A frame the caller owns (opts.owned) is moved to the main thread, not copied; anything else
   * is copied to exactly its own bytes and moved (cloning a view would copy its whole ArrayBuffer).
   */
  async publish(topic: string, payload: Uint8Array | string, opts: PublishOptions = {}): Promise<void> {
    const bytes = typeof payload !== 'string' && opts.owned && wholeBuffer(payload)
      ? payload
      : new Uint8Array(typeof payload === 'string' ? Buffer.from(payload) : payload);
    const msg: FromAppThread = { type: 'publish', topic, payload: bytes, qos: opts.qos ?? 1, retain: opts.retain ?? false };
    this.port.postMessage(msg, wholeBuffer(bytes) ? [bytes.buffer as ArrayBuffer] : []);
  }
}

/** True when `bytes` spans its whole (non-shared) ArrayBuffer, so moving that buffer moves just them. */
export function wholeBuffer(bytes: Uint8Array): boolean {
  return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && bytes.buffer instanceof ArrayBuffer;
}
