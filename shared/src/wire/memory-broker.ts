import { ErrorCodes, TributaryError } from '../api/errors.js';
import { matchesFilter } from './topics.js';
import { MemoryTransport, type MemoryLink, type MemoryTransportOptions } from './memory-transport.js';

/** What happens to one delivery (one message to one subscribed client). */
export type Fault = 'deliver' | 'drop' | 'duplicate' | 'hold';

/** One message on its way from the broker to one client; what a fault hook judges. */
export interface Delivery {
  readonly topic: string;
  readonly payload: Buffer;
  /** Client id of the publisher (the broker's own for a last will). */
  readonly from: string;
  /** Client id of the receiver. */
  readonly to: string;
}

interface Pending {
  readonly client: MemoryTransport;
  readonly topic: string;
  readonly payload: Buffer;
}

/**
 * An in-process publish/subscribe broker for MemoryTransport clients: MQTT topic matching
 * (wire/topics.ts matchesFilter), retained messages, last wills on a dying client (close with
 * force, or kill()), and a stop()/start() cycle that drops every client and lets it reconnect.
 * Tests of the runtime use it to run several nodes in one process with no sockets, and its
 * `faults` hook to drop, duplicate or hold back (reorder) single deliveries.
 *
 * Deliveries are asynchronous (setImmediate) and in order per broker, as a real broker's are per
 * connection; a held one goes out after whatever was routed before releaseHeld() was called.
 */
export class MemoryBroker implements MemoryLink {
  /** Decides each delivery's fate; null: every delivery goes out once. */
  faults: ((d: Delivery) => Fault) | null = null;
  readonly stats = { routed: 0, delivered: 0, dropped: 0, duplicated: 0, held: 0 };
  private up = true;
  /** Every client not closed, connected or waiting for the broker to come back. */
  private readonly clients = new Set<MemoryTransport>();
  private readonly retained = new Map<string, Buffer>();
  private held: Pending[] = [];

  get running(): boolean {
    return this.up;
  }

  /**
   * A new client, connected (its birth published). Rejects with TRIB_ERR_BROKER_UNREACHABLE
   * while the broker is stopped, as a connection to a dead port does.
   */
  async connect(options: MemoryTransportOptions): Promise<MemoryTransport> {
    if (!this.up) throw new TributaryError(ErrorCodes.BROKER_UNREACHABLE, `memory broker is stopped; ${options.clientId} cannot connect`);
    const client = new MemoryTransport(this, options);
    this.clients.add(client);
    client.connectionUp();
    return client;
  }

  /** The broker goes away: every client goes offline (no wills), retained messages are lost. */
  stop(): void {
    if (!this.up) return;
    this.up = false;
    this.retained.clear();
    this.held = [];
    for (const c of this.clients) c.connectionLost();
  }

  /** The broker is back: every client that was connected reconnects (asynchronously). */
  start(): void {
    if (this.up) return;
    this.up = true;
    setImmediate(() => {
      for (const c of this.clients) if (this.up) c.connectionUp();
    });
  }

  /** Sends every held delivery now, after whatever was routed before; returns how many. */
  releaseHeld(): number {
    const held = this.held;
    this.held = [];
    for (const p of held) this.schedule(p);
    return held.length;
  }

  /** Deliveries held back by the `faults` hook and not yet released. */
  get heldCount(): number {
    return this.held.length;
  }

  /** MemoryTransport: a message from `from` (retain: stored first, an empty payload clears it). */
  route(from: string, topic: string, payload: Buffer, retain: boolean): void {
    if (!this.up) return;
    this.stats.routed++;
    if (retain) {
      if (payload.length === 0) this.retained.delete(topic);
      else this.retained.set(topic, payload);
    }
    for (const client of this.clients) {
      if (client.connected && client.subscribedTo(topic)) this.deliver(from, client, topic, payload);
    }
  }

  /** MemoryTransport: `client` subscribed to `filters`: the retained messages they match. */
  sendRetained(client: MemoryTransport, filters: readonly string[]): void {
    for (const [topic, payload] of this.retained) {
      if (filters.some((f) => matchesFilter(f, topic))) this.deliver('$broker', client, topic, payload);
    }
  }

  /** MemoryTransport: the client closed; with `will`, it died and its will goes out. */
  detach(client: MemoryTransport, will: boolean): void {
    if (!this.clients.delete(client)) return;
    const w = client.will;
    if (will && w && this.up) this.route('$broker', w.topic, toBuffer(w.payload), w.retain ?? false);
  }

  private deliver(from: string, client: MemoryTransport, topic: string, payload: Buffer): void {
    const fault = this.faults?.({ topic, payload, from, to: client.clientId }) ?? 'deliver';
    const p = { client, topic, payload };
    if (fault === 'drop') {
      this.stats.dropped++;
    } else if (fault === 'hold') {
      this.stats.held++;
      this.held.push(p);
    } else {
      this.schedule(p);
      if (fault === 'duplicate') {
        this.stats.duplicated++;
        this.schedule(p);
      }
    }
  }

  private schedule(p: Pending): void {
    setImmediate(() => {
      if (!this.up || !p.client.connected) return;
      this.stats.delivered++;
      p.client.dispatch(p.topic, Buffer.from(p.payload));
    });
  }
}

export function toBuffer(payload: Uint8Array | string): Buffer {
  return typeof payload === 'string' ? Buffer.from(payload, 'utf8') : Buffer.from(payload);
}
