import type { Snapshot } from '../master/snapshot.js';
import { ClockChart, LagChart } from './chart.js';
import { clock, count, esc, lag, ms, rate } from './dom.js';
import { DagView } from './graph.js';
import type { Page } from './page.js';

/** Application: the DAG, min-clock and lag over time, and every task with its node and health. */
export function appPage(root: HTMLElement, id: string): Page {
  root.innerHTML = `
    <h1>Application <span>${esc(id)}</span></h1>
    <p class="kpis" data-testid="app-kpis"></p>
    <section class="cols">
      <div><h2>DAG</h2><div id="dag" data-testid="dag" class="dag"></div>
        <p class="legend"><span class="sw edge"></span>edge (agents) <span class="sw cloud"></span>cloud (workers) <span class="sw bad"></span>failing / lagging · click a processor for its page</p></div>
      <div><h2>Clock lag and throughput</h2><div data-testid="chart" class="chart"></div>
        <h2>Min-clock</h2><div data-testid="clock-chart" class="chart"></div></div>
    </section>
    <section><h2>Processors</h2>
      <table data-testid="processors"><thead><tr><th>processor</th><th>placement</th><th>tasks</th><th>in/s</th><th>out/s</th><th>records in</th><th>backlog</th><th>rejected</th><th>skew</th><th>latency p99</th><th>status</th></tr></thead><tbody></tbody></table></section>
    <section><h2>Tasks (physical plan)</h2>
      <table data-testid="tasks"><thead><tr><th>task</th><th>node</th><th>kind</th><th>in/s</th><th>out/s</th><th>queued</th><th>input clock</th><th>status</th></tr></thead><tbody></tbody></table></section>`;
  const kpis = root.querySelector('[data-testid=app-kpis]')!;
  const dag = new DagView(root.querySelector<HTMLElement>('#dag')!, (p) => (location.hash = `#/apps/${encodeURIComponent(id)}/processors/${p}`));
  const chart = new LagChart(root.querySelector<HTMLElement>('[data-testid=chart]')!);
  const clockChart = new ClockChart(root.querySelector<HTMLElement>('[data-testid=clock-chart]')!);
  const procs = root.querySelector('[data-testid=processors] tbody')!;
  const tasks = root.querySelector('[data-testid=tasks] tbody')!;
  (window as unknown as { __tributary: Record<string, unknown> }).__tributary.cy = dag.cy;
  void fetch(`/apps/${encodeURIComponent(id)}/clock`).then((r) => (r.ok ? r.json() : null)).then((c: { history: [number, number | 'start' | 'end'][] } | null) => {
    if (!c) return;
    chart.seed(c.history);
    clockChart.seed(c.history);
  });

  return {
    update(s: Snapshot) {
      const a = s.apps.find((x) => x.id === id);
      if (!a) {
        kpis.innerHTML = `<span class="red">no application named ${esc(id)}</span>`;
        return;
      }
      kpis.innerHTML = `state <b class="state ${esc(a.state)}">${esc(a.state)}</b> · epoch ${a.epoch} · throughput <b data-testid="app-throughput">${rate(a.throughput)}</b>
        · records in <b data-testid="app-records-in">${count(a.recordsIn)}</b> · min-clock <b>${clock(a.minClock)}</b> · lag <b data-testid="app-lag">${lag(a.lagMs)}</b>
        ${a.error ? `· <span class="red">${esc(a.error)}</span>` : ''}${a.pending.map((p) => ` · <span class="red">waiting: ${esc(p.reason)}</span>`).join('')}`;
      dag.update(a);
      chart.push(s.at, a.lagMs, a.throughput);
      clockChart.push(s.at, a.minClock);
      procs.innerHTML = a.processors.map((p) => `<tr data-processor="${p.id}" data-runs-on="${p.runsOn}" class="${p.problem && a.state === 'running' ? 'bad' : ''}">
        <td><a href="#/apps/${encodeURIComponent(id)}/processors/${p.id}">${esc(p.name)}</a></td><td><span class="tag ${p.runsOn}">${p.runsOn}</span> ${esc(p.placement.where)}${p.placement.selector ? ` ${esc(JSON.stringify(p.placement.selector))}` : ''}</td>
        <td>${p.tasks.length}</td><td>${rate(p.inRate)}</td><td>${rate(p.outRate)}</td><td>${count(p.in)}</td><td>${p.backlog}</td><td>${p.rejected}</td><td>${p.skew.toFixed(2)}</td><td title="slowest task, event time">${ms(p.latencyMs?.p99)}</td><td>${esc(p.problem ?? 'ok')}</td></tr>`).join('');
      tasks.innerHTML = a.processors.flatMap((p) => p.tasks.map((t) => `<tr data-task="${p.id}.${t.index}" data-node="${esc(t.node)}" class="${t.problem && a.state === 'running' ? 'bad' : ''}">
        <td>${esc(p.name)}.${t.index}</td><td>${esc(t.node)}</td><td>${t.kind}</td><td>${rate(t.inRate)}</td><td>${rate(t.outRate)}</td><td>${t.queued}</td><td>${clock(t.inputClock)}</td><td data-testid="task-status">${esc(t.problem ?? 'ok')}</td></tr>`)).join('');
    },
    destroy() {
      dag.destroy();
      chart.destroy();
      clockChart.destroy();
    },
  };
}
