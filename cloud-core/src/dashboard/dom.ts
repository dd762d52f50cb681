/** Tiny DOM helpers: escaping for the few innerHTML templates, and number formats. */
export function esc(v: unknown): string {
  return String(v).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export function rate(r: number): string {
  if (r >= 1e6) return `${(r / 1e6).toFixed(2)} M/s`;
  if (r >= 1e3) return `${(r / 1e3).toFixed(1)} k/s`;
  return `${r.toFixed(r < 10 ? 1 : 0)}/s`;
}

export function count(n: number): string {
  return n.toLocaleString('en-US');
}

export function lag(ms: number | null): string {
  if (ms === null) return '—';
  if (Math.abs(ms) < 10_000) return `${(ms / 1000).toFixed(1)} s`;
  if (Math.abs(ms) < 3_600_000) return `${Math.round(ms / 1000)} s`;
  return `${(ms / 3_600_000).toFixed(1)} h`;
}

export function clock(c: number | 'start' | 'end'): string {
  return typeof c === 'number' ? new Date(c).toISOString().replace('T', ' ').replace('Z', '') : c;
}

export function ago(at: number, now: number): string {
  const s = Math.max(0, Math.round((now - at) / 1000));
  return s < 120 ? `${s} s ago` : `${Math.round(s / 60)} min ago`;
}

export function el<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string> = {}, html = ''): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  e.innerHTML = html;
  return e;
}

/** A latency in ms: µs below 1 ms, ms below 10 s, then seconds. */
export function ms(v: number | null | undefined): string {
  if (v === null || v === undefined) return '—';
  if (v < 1) return `${Math.round(v * 1000)} µs`;
  if (v < 10_000) return `${v < 10 ? v.toFixed(1) : Math.round(v)} ms`;
  return `${(v / 1000).toFixed(v < 100_000 ? 1 : 0)} s`;
}

export function bytes(n: number): string {
  if (n >= 1024 ** 3) return `${(n / 1024 ** 3).toFixed(2)} GiB`;
  if (n >= 1024 ** 2) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  if (n >= 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${n} B`;
}
