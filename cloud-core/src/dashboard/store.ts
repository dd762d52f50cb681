import type { Snapshot } from '../master/snapshot.js';

type Listener = (s: Snapshot) => void;

/**
 * The one live connection: an EventSource on /stream. The master pushes a snapshot on connect,
 * every second and on every change; pages subscribe here instead of polling. EventSource
 * reconnects by itself (the server sets `retry`), and the header shows the connection state.
 */
export class LiveStore {
  latest: Snapshot | null = null;
  received = 0;
  /** Time spent parsing and rendering pushed snapshots, for bench/dashboard.ts. */
  renderMs = 0;
  lastRenderMs = 0;
  private readonly listeners = new Set<Listener>();

  constructor(private readonly statusEl: HTMLElement) {}

  connect(): void {
    const es = new EventSource('/stream');
    es.addEventListener('snapshot', (ev) => {
      const t0 = performance.now();
      this.latest = JSON.parse((ev as MessageEvent<string>).data) as Snapshot;
      this.received++;
      this.statusEl.textContent = `live · ${new Date(this.latest.at).toLocaleTimeString()}`;
      this.statusEl.className = 'status live';
      for (const l of this.listeners) l(this.latest);
      this.lastRenderMs = performance.now() - t0;
      this.renderMs += this.lastRenderMs;
    });
    es.onerror = () => {
      this.statusEl.textContent = 'reconnecting…';
      this.statusEl.className = 'status down';
      // CLOSED: the master refused the stream (a 401: session expired, token revoked), and an
      // EventSource never retries that. Reloading the page brings the login form.
      if (es.readyState === EventSource.CLOSED) void fetch('/snapshot').then((r) => r.status === 401 && location.reload());
    };
  }

  subscribe(l: Listener): () => void {
    this.listeners.add(l);
    if (this.latest) l(this.latest);
    return () => this.listeners.delete(l);
  }
}
