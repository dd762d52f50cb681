import { ErrorCodes, TributaryError } from '../api/errors.js';
import type { Logger } from '../api/logger.js';
import { matchesFilter } from './topics.js';
import type { MessageHandler, PublishOptions, QoS, Transport, TransportMessage, TransportStatus } from './transport.js';

export interface MemoryTransportOptions {
  /** Node id (or `master`). */
  readonly clientId: string;
  /** Published by the broker when the client dies (close({ force: true }) or kill()). */
  readonly will?: TransportMessage;
  /** Published after every (re)connect, as MqttTransport does. */
  readonly birth?: TransportMessage;
  readonly log?: Logger;
}

/** What a MemoryTransport needs from its broker (MemoryBroker implements it). */
export interface MemoryLink {
  route(from: string, topic: string, payload: Buffer, retain: boolean): void;
  sendRetained(client: MemoryTransport, filters: readonly string[]): void;
  detach(client: MemoryTransport, will: boolean): void;
}

interface Queued {
  topic: string;
  payload: Buffer;
  retain: boolean;
  resolve: () => void;
  reject: (err: Error) => void;
}

/**
 * A Transport to a MemoryBroker in the same process: what tests use to run nodes with no
 * sockets. Same contract as MqttTransport (the conformance suite in test/transport.test.ts runs
 * against both): offline publishes queue and go out on reconnect, subscriptions are restored,
 * status changes are reported, a forced close makes the broker publish the last will.
 * Created by MemoryBroker.connect(); the broker drives connectionUp()/connectionLost().
 */
export class MemoryTransport implements Transport {
  readonly clientId: string;
  readonly will: TransportMessage | undefined;
  private status: TransportStatus = 'offline';
  private readonly filters = new Set<string>();
  private readonly handlers = new Set<MessageHandler>();
  private readonly statusHandlers = new Set<(s: TransportStatus) => void>();
  private queue: Queued[] = [];
  private subscribeWaiters: (() => void)[] = [];
  private closing: Promise<void> | null = null;
  private wasConnected = false;

  constructor(private readonly link: MemoryLink, private readonly options: MemoryTransportOptions) {
    this.clientId = options.clientId;
    this.will = options.will;
  }

  get connected(): boolean {
    return this.status === 'connected';
  }

  publish(topic: string, payload: Uint8Array | string, opts: PublishOptions = {}): Promise<void> {
    if (this.closing) return Promise.reject(closedError(this.clientId));
    const buf = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : Buffer.from(payload);
    const retain = opts.retain ?? false;
    if (this.connected) {
      this.link.route(this.clientId, topic, buf, retain);
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => this.queue.push({ topic, payload: buf, retain, resolve, reject }));
  }

  subscribe(filters: string | string[], _qos?: QoS): Promise<void> {
    if (this.closing) return Promise.reject(closedError(this.clientId));
    const list = Array.isArray(filters) ? filters : [filters];
    for (const f of list) this.filters.add(f);
    if (this.connected) {
      this.link.sendRetained(this, list);
      return Promise.resolve();
    }
    return new Promise((resolve) => this.subscribeWaiters.push(resolve));
  }

  async unsubscribe(filters: string | string[]): Promise<void> {
    for (const f of Array.isArray(filters) ? filters : [filters]) this.filters.delete(f);
  }

  onMessage(handler: MessageHandler): () => void {
    const h: MessageHandler = (topic, payload) => handler(topic, payload);
    this.handlers.add(h);
    return () => void this.handlers.delete(h);
  }

  onStatus(handler: (status: TransportStatus) => void): () => void {
    this.statusHandlers.add(handler);
    return () => void this.statusHandlers.delete(handler);
  }

  /** Graceful (no will; offline-queued publishes are rejected) or forced (the will goes out). */
  close(opts: { force?: boolean } = {}): Promise<void> {
    if (this.closing) return this.closing;
    this.link.detach(this, opts.force ?? false);
    for (const q of this.queue.splice(0)) q.reject(closedError(this.clientId));
    this.setStatus('offline');
    this.statusHandlers.clear();
    this.handlers.clear();
    this.closing = Promise.resolve();
    return this.closing;
  }

  /** The client dies without DISCONNECT: the broker publishes its last will. */
  kill(): Promise<void> {
    return this.close({ force: true });
  }

  /** MemoryBroker: whether any subscription matches `topic`. */
  subscribedTo(topic: string): boolean {
    for (const f of this.filters) if (matchesFilter(f, topic)) return true;
    return false;
  }

  /** MemoryBroker: a message for this client; every handler gets it, a throwing one is logged. */
  dispatch(topic: string, payload: Buffer): void {
    for (const h of [...this.handlers]) {
      try {
        h(topic, payload);
      } catch (err) {
        this.options.log?.error({ err, topic }, 'message handler threw');
      }
    }
  }

  /** MemoryBroker: (re)connected: subscriptions restored, birth, then the offline queue. */
  connectionUp(): void {
    if (this.closing || this.connected) return;
    if (this.wasConnected) this.setStatus('reconnecting');
    this.wasConnected = true;
    if (this.filters.size > 0) this.link.sendRetained(this, [...this.filters]);
    this.setStatus('connected');
    for (const w of this.subscribeWaiters.splice(0)) w();
    const birth = this.options.birth;
    if (birth) this.link.route(this.clientId, birth.topic, typeof birth.payload === 'string' ? Buffer.from(birth.payload) : Buffer.from(birth.payload), birth.retain ?? false);
    for (const q of this.queue.splice(0)) {
      this.link.route(this.clientId, q.topic, q.payload, q.retain);
      q.resolve();
    }
  }

  /** MemoryBroker: the broker went away. */
  connectionLost(): void {
    if (!this.closing) this.setStatus('offline');
  }

  private setStatus(status: TransportStatus): void {
    if (this.status === status) return;
    this.status = status;
    for (const h of [...this.statusHandlers]) {
      try {
        h(status);
      } catch (err) {
        this.options.log?.error({ err }, 'status handler threw');
      }
    }
  }
}

function closedError(clientId: string): TributaryError {
  return new TributaryError(ErrorCodes.TRANSPORT_CLOSED, `transport ${clientId} is closed`);
}
