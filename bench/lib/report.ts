/** The printed report: the results table with ratios to each baseline, processes, targets. */
import type { BenchContext } from './context.js';
import type { Row } from './results.js';
import { fixed, int, renderTable } from './table.js';

export interface Ratios {
  transport: number | null;
  /** This row's records/s over the hand-written pipeline's (issue 14's baseline). */
  handWritten: number | null;
  nodeRed: number | null;
  local: number | null;
  /** For latency rows: p99 / the transport's p99 at the same offered load. */
  p99VsTransport: number | null;
}

const div = (a: number | undefined, b: number | undefined) => (a !== undefined && b !== undefined && Number.isFinite(a) && Number.isFinite(b) && b > 0 ? a / b : null);

export function ratiosOf(ctx: BenchContext, row: Row): Ratios {
  const transport = ctx.baseline('transport');
  const nodeRed = ctx.baseline('node-red');
  const handWritten = ctx.baseline('hand-written');
  const local = ctx.baseline('local', (r) => r.devices === (row.devices ?? 10)) ?? ctx.baseline('local', (r) => r.devices === 10);
  const transportLatency = row.offeredRate !== undefined ? ctx.baseline('transport-latency', (r) => r.offeredRate === row.offeredRate) : undefined;
  const rate = row.rate?.median;
  return {
    transport: div(rate, transport?.rate?.median),
    handWritten: div(rate, handWritten?.rate?.median),
    nodeRed: div(rate, nodeRed?.rate?.median),
    local: div(rate, local?.rate?.median),
    p99VsTransport: row.latency && row.role !== 'transport-latency' ? div(row.latency.p99, transportLatency?.latency?.p99) : null,
  };
}

export function ratio(x: number | null): string {
  if (x === null) return '—';
  return `${x >= 100 ? int(x) : x >= 10 ? fixed(x, 1) : fixed(x, 2)}×`;
}

const ms = (x: number) => (x >= 100 ? int(x) : fixed(x, 1));

export function resultsTable(ctx: BenchContext): string {
  return renderTable(
    ['scenario', 'case', '>records/run', '>runs', '>median rec/s', '>min–max rec/s', '>p50/p99/max ms', '>rec/CPU-s', '>×transport', '>×hand-written', '>×Node-RED', '>×local', 'figure'],
    ctx.rows.map((r) => {
      const q = ratiosOf(ctx, r);
      return [
        r.scenario,
        r.case,
        r.records ? int(r.records) : '—',
        String(r.runs),
        r.rate ? int(r.rate.median) : '—',
        r.rate ? `${int(r.rate.min)}–${int(r.rate.max)}` : '—',
        r.latency ? `${ms(r.latency.p50)}/${ms(r.latency.p99)}/${ms(r.latency.max)}` : '—',
        r.recordsPerCpuSec ? int(r.recordsPerCpuSec) : '—',
        q.p99VsTransport !== null ? `p99 ${ratio(q.p99VsTransport)}` : ratio(q.transport),
        ratio(q.handWritten),
        ratio(q.nodeRed),
        ratio(q.local),
        r.headline ?? '',
      ];
    }),
  );
}

export function processTable(ctx: BenchContext): string {
  const rows: string[][] = [];
  for (const r of ctx.rows) {
    for (const [name, u] of Object.entries(r.processes)) {
      rows.push([r.scenario, r.case, name, fixed(u.cpuSec, 2), fixed(u.peakRssMB, 0), fixed(u.meanRssMB, 0)]);
    }
  }
  return renderTable(['scenario', 'case', 'process', '>CPU s', '>peak RSS MB', '>mean RSS MB'], rows);
}

export interface Target {
  target: string;
  measured: string;
  status: 'met' | 'missed' | 'not measured';
}

export function targets(ctx: BenchContext): Target[] {
  const out: Target[] = [];
  const status = (ok: boolean | null): Target['status'] => (ok === null ? 'not measured' : ok ? 'met' : 'missed');
  const e2e = ctx.find('durability', (r) => r.case.includes('exactly-once')) ?? ctx.find('throughput', (r) => r.devices === 10);
  const q = e2e ? ratiosOf(ctx, e2e) : null;
  // issue 14's targets
  const against = (x: number | null | undefined, role: 'transport' | 'hand-written' | 'node-red') =>
    x != null ? `${ratio(x)} (${int(e2e!.rate!.median)} vs ${int(ctx.baseline(role)!.rate!.median)} records/s)` : '—';
  out.push({
    target: 'end to end, replay log + exactly-once (10 devices) >= 0.7x the transport ceiling',
    measured: against(q?.transport, 'transport'),
    status: status(q?.transport != null ? q.transport >= 0.7 : null),
  });
  out.push({
    target: 'end to end, replay log + exactly-once (10 devices) >= 0.9x the hand-written pipeline',
    measured: against(q?.handWritten, 'hand-written'),
    status: status(q?.handWritten != null ? q.handWritten >= 0.9 : null),
  });
  out.push({
    target: 'end to end, replay log + exactly-once (10 devices) >= 40x Node-RED',
    measured: against(q?.nodeRed, 'node-red'),
    status: status(q?.nodeRed != null ? q.nodeRed >= 40 : null),
  });
  const lat = ctx.find('latency', (r) => r.offeredRate === 10_000);
  const tLat = ctx.baseline('transport-latency', (r) => r.offeredRate === 10_000);
  const lq = lat && tLat?.latency && lat.latency ? lat.latency.p99 / tLat.latency.p99 : null;
  out.push({
    target: 'p99 latency at 10k records/s <= 2x the transport p99 at 10k records/s',
    measured: lq !== null ? `${fixed(lat!.latency!.p99, 1)} ms vs ${fixed(tLat!.latency!.p99, 1)} ms (${ratio(lq)})` : '—',
    status: status(lq !== null ? lq <= 2 : null),
  });
  const fp = ctx.find('footprint', (r) => r.offeredRate === 1000);
  const rss = fp?.extra?.agentPeakRssMB;
  out.push({
    target: 'agent RSS < 60 MB at 1k records/s (peak over the run; issue 5)',
    measured: typeof rss === 'number' ? `${fixed(rss, 1)} MB peak, ${fixed(Number(fp!.extra!.agentRssMB), 1)} MB mean` : '—',
    status: status(typeof rss === 'number' && Number.isFinite(rss) ? rss < 60 : null),
  });
  return out;
}

export function targetsTable(ts: Target[]): string {
  return renderTable(['target', 'measured', 'status'], ts.map((t) => [t.target, t.measured, t.status]));
}
