import type { NodeStats, Snapshot } from '../master/snapshot.js';
import { ago, bytes, count, esc } from './dom.js';
import type { Page } from './page.js';

/**
 * Fleet: every worker and agent with labels, version, online state, last seen, backlog (batches
 * queued in its tasks), its replay logs (records not yet checkpointed past, disk use against the
 * quota, drops, a blocked source) and the tasks it hosts (struck out in red once the node is offline). The filter matches `key=value`
 * labels exactly, anything else as a substring of id, kind or labels.
 */
export function fleetPage(root: HTMLElement, query: URLSearchParams): Page {
  root.innerHTML = `
    <h1>Fleet</h1>
    <p><input data-testid="fleet-filter" placeholder="filter: site=plant-1, kind=agent, or text" size="40"> <span data-testid="fleet-count"></span></p>
    <table data-testid="fleet"><thead><tr><th>node</th><th>kind</th><th>labels</th><th>version</th><th>state</th><th>last seen</th><th>clock offset</th><th>queued</th><th title="records in the replay logs not yet checkpointed past">replay backlog</th><th title="replay logs on disk / quota">replay disk</th><th>tasks</th></tr></thead><tbody></tbody></table>`;
  const input = root.querySelector<HTMLInputElement>('[data-testid=fleet-filter]')!;
  const body = root.querySelector('[data-testid=fleet] tbody')!;
  const countEl = root.querySelector('[data-testid=fleet-count]')!;
  input.value = query.get('label') ?? '';
  let last: Snapshot | null = null;
  const render = (s: Snapshot) => {
    const shown = s.nodes.filter(matches(input.value.trim()));
    countEl.textContent = `${shown.length} of ${s.nodes.length}`;
    body.innerHTML = shown.map((n) => row(n, s.at)).join('');
  };
  input.addEventListener('input', () => last && render(last));
  return { update: (s) => render((last = s)) };
}

function matches(filter: string): (n: NodeStats) => boolean {
  if (!filter) return () => true;
  const eq = /^([^=\s]+)=(.*)$/.exec(filter);
  if (eq) return (n) => (eq[1] === 'kind' ? n.kind === eq[2] : n.labels[eq[1]] === eq[2]);
  return (n) => `${n.id} ${n.kind} ${Object.entries(n.labels).map(([k, v]) => `${k}=${v}`).join(' ')}`.includes(filter);
}

function row(n: NodeStats, now: number): string {
  const tasks = Object.entries(n.apps).flatMap(([app, a]) => a.tasks.map((t) => `<span class="task ${n.online ? '' : 'stopped'}" data-task="${esc(app)}/${esc(t)}">${esc(app)} ${esc(t)}</span>`));
  return `<tr data-node="${esc(n.id)}" data-online="${n.online}" class="${n.online ? '' : 'bad'}">
    <td>${esc(n.id)}</td><td>${n.kind}</td><td>${Object.entries(n.labels).map(([k, v]) => `<code>${esc(k)}=${esc(v)}</code>`).join(' ')}</td>
    <td>${esc(n.version)}</td><td data-testid="node-state" class="${n.online ? 'green' : 'red'}">${n.online ? 'online' : 'offline'}</td>
    <td>${ago(n.lastSeen, now)}</td><td>${n.clockOffsetMs} ms</td><td>${n.backlog}</td>${replayCells(n)}<td>${tasks.join(' ') || '—'}</td></tr>`;
}

function replayCells(n: NodeStats): string {
  const r = n.replayLog;
  if (!r) return '<td data-testid="replay-backlog">—</td><td data-testid="replay-disk">—</td>';
  const full = r.quotaBytes > 0 && r.diskBytes >= 0.9 * r.quotaBytes;
  const notes = [r.blocked ? '<span class="red">blocked</span>' : '', r.droppedRecords > 0 ? `<span class="red">${count(r.droppedRecords)} dropped</span>` : ''].filter(Boolean).join(' ');
  return `<td data-testid="replay-backlog">${count(r.backlogRecords)}</td>
    <td data-testid="replay-disk" class="${full || r.blocked ? 'red' : ''}">${bytes(r.diskBytes)}${r.quotaBytes > 0 ? ` / ${bytes(r.quotaBytes)}` : ''}${notes ? ` ${notes}` : ''}</td>`;
}
