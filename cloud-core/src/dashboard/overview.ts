import type { Snapshot } from '../master/snapshot.js';
import { count, esc, lag, rate } from './dom.js';
import type { Page } from './page.js';

/** Overview: applications (state, throughput, clock lag), the fleet by label, recent events. */
export function overviewPage(root: HTMLElement): Page {
  root.innerHTML = `
    <h1>Overview</h1>
    <section><h2>Applications</h2>
      <table data-testid="apps"><thead><tr><th>application</th><th>state</th><th>epoch</th><th>throughput</th><th>records in</th><th>clock lag</th><th>tasks</th></tr></thead><tbody></tbody></table>
    </section>
    <section class="cols">
      <div><h2>Fleet</h2><p data-testid="fleet-summary"></p>
        <table data-testid="fleet-labels"><thead><tr><th>label</th><th>online</th><th>offline</th></tr></thead><tbody></tbody></table></div>
      <div><h2>Recent events</h2><ol class="events" data-testid="events"></ol></div>
    </section>`;
  const apps = root.querySelector('[data-testid=apps] tbody')!;
  const summary = root.querySelector('[data-testid=fleet-summary]')!;
  const labels = root.querySelector('[data-testid=fleet-labels] tbody')!;
  const events = root.querySelector('[data-testid=events]')!;
  return {
    update(s: Snapshot) {
      apps.innerHTML = s.apps.map((a) => `
        <tr data-app="${esc(a.id)}" class="${a.processors.some((p) => p.problem) && a.state === 'running' ? 'bad' : ''}">
          <td><a href="#/apps/${encodeURIComponent(a.id)}">${esc(a.id)}</a></td><td class="state ${esc(a.state)}">${esc(a.state)}</td><td>${a.epoch}</td>
          <td data-testid="throughput">${rate(a.throughput)}</td><td data-testid="records-in">${count(a.recordsIn)}</td>
          <td>${lag(a.lagMs)}</td><td>${a.processors.reduce((n, p) => n + p.tasks.length, 0)}</td></tr>`).join('') || '<tr><td colspan="7">no applications yet</td></tr>';
      summary.innerHTML = `<b>${s.fleet.online}</b> online, <b class="${s.fleet.offline ? 'red' : ''}">${s.fleet.offline}</b> offline · <a href="#/fleet">all nodes</a>`;
      labels.innerHTML = s.fleet.byLabel.map((l) => `<tr><td><a href="#/fleet?label=${encodeURIComponent(l.label)}">${esc(l.label)}</a></td><td>${l.online}</td><td class="${l.offline ? 'red' : ''}">${l.offline}</td></tr>`).join('');
      events.innerHTML = s.events.slice(-15).reverse().map((e) => `<li class="${/offline|failed/.test(e.kind) ? 'red' : ''}"><time>${new Date(e.at).toLocaleTimeString()}</time> ${esc(e.message)}</li>`).join('');
    },
  };
}
