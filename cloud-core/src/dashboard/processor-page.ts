import type { Snapshot } from '../master/snapshot.js';
import { clock, count, esc, ms, rate } from './dom.js';
import type { Page } from './page.js';

/**
 * Processor: per-task throughput, latency, backlog and clock, and the skew view: each task's
 * share of the processor's records as bars (uneven bars: keys spread unevenly over tasks), and
 * the hottest keys with the task that owns each (a hot key explains a hot task). Latency is
 * sampled once per batch by channel-fed tasks over their node's last report interval: event
 * time (wall clock minus the batch's last event time) and processing (inbox wait + processing).
 */
export function processorPage(root: HTMLElement, app: string, pid: string): Page {
  root.innerHTML = `
    <h1><a href="#/apps/${encodeURIComponent(app)}">${esc(app)}</a> › processor <span data-testid="processor-name"></span></h1>
    <p class="kpis" data-testid="processor-kpis"></p>
    <section><h2>Tasks</h2><table data-testid="processor-tasks"><thead>
      <tr><th rowspan="2">task</th><th rowspan="2">node</th><th rowspan="2">in/s</th><th rowspan="2">out/s</th><th rowspan="2">records in</th><th rowspan="2">records out</th><th rowspan="2">late</th><th rowspan="2">queued</th>
        <th colspan="3" title="wall clock when a batch is processed minus its last record's event time">event-time latency</th><th colspan="2" title="a batch's wait in the inbox plus its processing and I/O">processing</th><th rowspan="2">input clock</th><th rowspan="2">status</th></tr>
      <tr><th>p50</th><th>p99</th><th>max</th><th>p50</th><th>p99</th></tr></thead><tbody></tbody></table>
      <p class="legend">Latency over the node's last report interval (~1 s), one sample per batch; — : no batch in that interval.</p></section>
    <section class="cols">
      <div><h2>Skew: share of records per task</h2><div data-testid="skew" class="skew"></div></div>
      <div><h2>Hottest keys</h2><p data-testid="key-skew"></p>
        <table data-testid="hot-keys"><thead><tr><th>key</th><th>≈ records</th><th>share</th><th>task</th></tr></thead><tbody></tbody></table>
        <p class="legend">Approximate (each task samples ~1 in 16 of its input into a 16-key sketch), since the tasks started.</p></div>
    </section>
    <section data-testid="laggards-section" hidden><h2>Devices holding the clock back</h2>
      <table data-testid="clock-laggards"><thead><tr><th>device</th><th>newest reading</th><th>its clock</th><th>task</th></tr></thead><tbody></tbody></table>
      <p class="legend">A source with a clock per device: its clock is the lowest of its active devices' clocks (newest reading minus the allowed delay).</p></section>`;
  const name = root.querySelector('[data-testid=processor-name]')!;
  const kpis = root.querySelector('[data-testid=processor-kpis]')!;
  const body = root.querySelector('[data-testid=processor-tasks] tbody')!;
  const skew = root.querySelector('[data-testid=skew]')!;
  const keySkew = root.querySelector('[data-testid=key-skew]')!;
  const keys = root.querySelector('[data-testid=hot-keys] tbody')!;
  const laggardsSection = root.querySelector<HTMLElement>('[data-testid=laggards-section]')!;
  const laggards = root.querySelector('[data-testid=clock-laggards] tbody')!;
  return {
    update(s: Snapshot) {
      const p = s.apps.find((a) => a.id === app)?.processors.find((x) => String(x.id) === pid);
      if (!p) {
        kpis.innerHTML = `<span class="red">no processor ${esc(pid)} in ${esc(app)}</span>`;
        return;
      }
      name.textContent = p.name;
      kpis.innerHTML = `runs on <span class="tag ${p.runsOn}">${p.runsOn}</span> · ${p.tasks.length} task(s) · in ${rate(p.inRate)} · out ${rate(p.outRate)} · backlog ${p.backlog}
        · latency p99 <b data-testid="processor-latency-p99">${ms(p.latencyMs?.p99)}</b> (slowest task) · processing p99 ${ms(p.processingMs?.p99)} · skew <b data-testid="skew-factor">${p.skew.toFixed(2)}</b> (max/mean)`;
      body.innerHTML = p.tasks.map((t) => `<tr data-task="${t.index}" class="${t.problem ? 'bad' : ''}"><td>${t.index}</td><td>${esc(t.node)} (${t.kind})</td><td>${rate(t.inRate)}</td><td>${rate(t.outRate)}</td>
        <td>${count(t.in)}</td><td>${count(t.out)}</td><td>${t.late}</td><td>${t.queued}</td>
        <td data-testid="latency-p50">${ms(t.latencyMs?.p50)}</td><td data-testid="latency-p99">${ms(t.latencyMs?.p99)}</td><td>${ms(t.latencyMs?.max)}</td>
        <td data-testid="processing-p50">${ms(t.processingMs?.p50)}</td><td data-testid="processing-p99">${ms(t.processingMs?.p99)}</td>
        <td>${clock(t.inputClock)}</td><td>${esc(t.problem ?? 'ok')}</td></tr>`).join('');
      const total = Math.max(1, p.in);
      skew.innerHTML = p.tasks.map((t) => {
        const share = (100 * t.in) / total;
        return `<div class="bar"><span class="label">task ${t.index} · ${esc(t.node)}</span><span class="fill" style="width:${share.toFixed(1)}%"></span><span class="pct">${share.toFixed(1)}%</span></div>`;
      }).join('');
      const hottest = p.hotKeys[0];
      keySkew.innerHTML = hottest
        ? `hottest key <code>${esc(hottest.key)}</code>: ≈${(100 * hottest.share).toFixed(1)}% of the records, on task ${hottest.task}`
        : 'no keyed input sampled (a source, or records without keys)';
      const lag = p.clockLaggards ?? [];
      laggardsSection.hidden = lag.length === 0;
      laggards.innerHTML = lag.map((l) => `<tr data-device="${esc(l.device)}"><td><code>${esc(l.device)}</code></td><td>${clock(l.newestTs)}</td><td>${clock(l.clock)}</td><td>${l.task}</td></tr>`).join('');
      keys.innerHTML = p.hotKeys.map((k) => `<tr data-key="${esc(k.key)}"><td><code>${esc(k.key)}</code></td><td>${count(k.count)}</td><td>${(100 * k.share).toFixed(1)}%</td><td>${k.task} · ${esc(k.node)}</td></tr>`).join('');
    },
  };
}
