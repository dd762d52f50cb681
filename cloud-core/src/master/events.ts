import type { Logger } from '@tributary/shared';

export type EventKind =
  | 'node.online' | 'node.offline' | 'node.recovered'
  | 'app.submitted' | 'app.finished' | 'app.killed' | 'app.failed' | 'app.epoch';

export interface ClusterEvent {
  seq: number;
  at: number;
  kind: EventKind;
  /** The node or application the event is about. */
  subject: string;
  message: string;
}

/**
 * The master's recent events (failures, recoveries, epoch changes), kept in a bounded ring so a
 * long-running master never grows: the dashboard and `GET /events` show the tail, Prometheus
 * counts them all (`counts`), which survive the ring's eviction.
 */
export class EventLog {
  private readonly ring: ClusterEvent[] = [];
  private seq = 0;
  readonly counts = new Map<EventKind, number>();
  private readonly listeners = new Set<(e: ClusterEvent) => void>();

  constructor(private readonly log: Logger, private readonly capacity = 500) {}

  add(kind: EventKind, subject: string, message: string): ClusterEvent {
    const e: ClusterEvent = { seq: ++this.seq, at: Date.now(), kind, subject, message };
    this.ring.push(e);
    if (this.ring.length > this.capacity) this.ring.splice(0, this.ring.length - this.capacity);
    this.counts.set(kind, (this.counts.get(kind) ?? 0) + 1);
    this.log.info({ event: kind, subject }, message);
    for (const l of this.listeners) l(e);
    return e;
  }

  /** Newest last; `since` is an exclusive sequence number for incremental reads. */
  recent(limit = 100, since = 0): ClusterEvent[] {
    const out = this.ring.filter((e) => e.seq > since);
    return out.slice(Math.max(0, out.length - limit));
  }

  onEvent(listener: (e: ClusterEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
