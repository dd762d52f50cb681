import type { RolloutRecord } from '../master/rollout-types.js';
import { ago, bytes, esc } from './dom.js';
import type { Page } from './page.js';

/** A rollout as GET /rollouts returns it (rollout-routes.ts): the record plus counts and the versions its devices run. */
type RolloutView = RolloutRecord & { target: string; counts: Record<string, number>; versions: Record<string, number>; bytes?: number };

const STATE_CLASS: Record<string, string> = { succeeded: 'green', failed: 'red', 'timed-out': 'red', 'rolled-back': 'red', aborted: 'red', aborting: 'red' };

/**
 * Rollouts (#/rollouts): the latest fleet rollouts, newest first, each with its state, its waves
 * and every device's step (state, the version it came from, the bytes sent to it, the reason), the counts by state and
 * a histogram of the versions its devices run now. Fetched from GET /rollouts at most once per
 * snapshot (each second): rollouts are not part of the live snapshot.
 */
export function rolloutsPage(root: HTMLElement): Page {
  root.innerHTML = '<h1>Rollouts</h1><div data-testid="rollouts"><p>loading…</p></div>';
  const box = root.querySelector<HTMLElement>('[data-testid=rollouts]')!;
  let inFlight = false;
  const refresh = (now: number) => {
    if (inFlight) return;
    inFlight = true;
    void fetch('/rollouts')
      .then((r) => (r.ok ? (r.json() as Promise<RolloutView[]>) : Promise.reject(new Error(`GET /rollouts: ${r.status}`))))
      .then((list) => { box.innerHTML = list.length ? list.slice(0, 5).map((r) => rollout(r, now)).join('') : '<p>No rollouts yet: <code>tributary fleet rollout agent &lt;version&gt; | app &lt;file&gt; | config &lt;file&gt;</code></p>'; })
      .catch((err: Error) => { box.innerHTML = `<p class="red">${esc(err.message)}</p>`; })
      .finally(() => { inFlight = false; });
  };
  return { update: (s) => refresh(s.at) };
}

function rollout(r: RolloutView, now: number): string {
  const total = Object.keys(r.steps).length;
  const histogram = Object.entries(r.versions).sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([v, n]) => `<div class="bar-row"><code>${esc(v)}</code> <span class="bar" style="display:inline-block;background:#4a8;height:0.8em;width:${Math.max(2, Math.round((200 * n) / Math.max(1, total)))}px"></span> ${n}</div>`).join('');
  const waves = r.plan.map((ids, w) => `<tr><th colspan="5">wave ${w}${w === 0 && r.canary > 0 ? ' (canary)' : ''}${w === r.wave && (r.state === 'running' || r.state === 'aborting') ? ' ◀' : ''}</th></tr>`
    + ids.map((id) => {
      const s = r.steps[id]!;
      const from = r.kind === 'agent' ? s.from : s.from?.slice(0, 12);
      return `<tr data-node="${esc(id)}"><td>${esc(id)}</td><td data-testid="step-state" class="${STATE_CLASS[s.state] ?? ''}">${esc(s.state)}</td><td>${esc(from ?? '')}</td><td data-testid="step-bytes">${s.bytes ? esc(bytes(s.bytes)) : ''}</td><td>${esc(s.reason ?? '')}</td></tr>`;
    }).join('')).join('');
  return `<section data-rollout="${esc(r.id)}">
    <h2>${esc(r.id)}: ${esc(r.target)} <span data-testid="rollout-state" class="${STATE_CLASS[r.state] ?? ''}">${esc(r.state)}</span></h2>
    <p>${total} devices, started ${ago(r.createdAt, now)}; ${Object.entries(r.counts).map(([k, n]) => `${esc(k)} ${n}`).join(', ')}${r.bytes ? `; sent ${esc(bytes(r.bytes))}` : ''}${r.reason ? ` — ${esc(r.reason)}` : ''}</p>
    <div data-testid="versions">${histogram}</div>
    <table><thead><tr><th>device</th><th>step</th><th>from</th><th>sent</th><th>reason</th></tr></thead><tbody>${waves}</tbody></table>
  </section>`;
}
