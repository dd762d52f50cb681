import type { Snapshot } from '../master/snapshot.js';
import { clock, count, esc, rate } from './dom.js';
import type { Page } from './page.js';

/**
 * Processor: per-task throughput, backlog and clock, and the skew view: each task's share of the
 * processor's records, as bars — uneven bars mean keys spread unevenly over tasks (a hot key).
 * Per-record latency percentiles are not in the nodes' reports yet; the input clock's distance
 * from the leading task stands in for it.
 */
export function processorPage(root: HTMLElement, app: string, pid: string): Page {
  root.innerHTML = `
    <h1><a href="#/apps/${encodeURIComponent(app)}">${esc(app)}</a> › processor <span data-testid="processor-name"></span></h1>
    <p class="kpis" data-testid="processor-kpis"></p>
    <section><h2>Tasks</h2><table data-testid="processor-tasks"><thead><tr><th>task</th><th>node</th><th>in/s</th><th>out/s</th><th>records in</th><th>records out</th><th>late</th><th>queued</th><th>input clock</th><th>status</th></tr></thead><tbody></tbody></table></section>
    <section><h2>Skew: share of records per task</h2><div data-testid="skew" class="skew"></div></section>`;
  const name = root.querySelector('[data-testid=processor-name]')!;
  const kpis = root.querySelector('[data-testid=processor-kpis]')!;
  const body = root.querySelector('[data-testid=processor-tasks] tbody')!;
  const skew = root.querySelector('[data-testid=skew]')!;
  return {
    update(s: Snapshot) {
      const p = s.apps.find((a) => a.id === app)?.processors.find((x) => String(x.id) === pid);
      if (!p) {
        kpis.innerHTML = `<span class="red">no processor ${esc(pid)} in ${esc(app)}</span>`;
        return;
      }
      name.textContent = p.name;
      kpis.innerHTML = `runs on <span class="tag ${p.runsOn}">${p.runsOn}</span> · ${p.tasks.length} task(s) · in ${rate(p.inRate)} · out ${rate(p.outRate)} · backlog ${p.backlog} · skew <b data-testid="skew-factor">${p.skew.toFixed(2)}</b> (max/mean)`;
      body.innerHTML = p.tasks.map((t) => `<tr class="${t.problem ? 'bad' : ''}"><td>${t.index}</td><td>${esc(t.node)} (${t.kind})</td><td>${rate(t.inRate)}</td><td>${rate(t.outRate)}</td>
        <td>${count(t.in)}</td><td>${count(t.out)}</td><td>${t.late}</td><td>${t.queued}</td><td>${clock(t.inputClock)}</td><td>${esc(t.problem ?? 'ok')}</td></tr>`).join('');
      const total = Math.max(1, p.in);
      skew.innerHTML = p.tasks.map((t) => {
        const share = (100 * t.in) / total;
        return `<div class="bar"><span class="label">task ${t.index} · ${esc(t.node)}</span><span class="fill" style="width:${share.toFixed(1)}%"></span><span class="pct">${share.toFixed(1)}%</span></div>`;
      }).join('');
    },
  };
}
