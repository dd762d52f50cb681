import { describePlacement } from './placement.js';
import type { Graph } from './graph.js';

/** A serialisable view of a plan, for `tributary plan --json`, the API and the dashboard. */
export function planToJSON(graph: Graph) {
  return {
    app: graph.name,
    processors: graph.processors.map((p) => ({
      id: p.id,
      name: p.name,
      parallelism: p.parallelism,
      placement: p.placement,
      source: p.source?.name ?? null,
      chain: p.chain,
      lateSink: p.isLateSink ?? false,
    })),
    edges: graph.edges.map((e) => ({ from: e.from, to: e.to, partitioner: e.partitioner.type, kind: e.kind })),
  };
}

/** Human-readable plan: processors with their fused chains, then edges with partitioners. */
export function describePlan(graph: Graph): string {
  const lines: string[] = [];
  const data = graph.edges.filter((e) => e.kind === 'data');
  lines.push(`application ${graph.name}: ${graph.processors.length} processor(s), ${data.length} edge(s)`);
  lines.push('processors:');
  for (const p of graph.processors) {
    const role = p.source ? 'source' : p.isLateSink ? 'late-data sink' : graph.outputs(p.id).some((e) => e.kind === 'data') ? 'task' : 'sink';
    lines.push(`  [${p.id}] ${role}  parallelism=${p.parallelism}  placement=${describePlacement(p.placement)}`);
    lines.push(`      fused chain: ${p.chain.join(' -> ')}`);
  }
  lines.push('edges:');
  for (const e of data) {
    lines.push(`  [${e.from}] -> [${e.to}]  ${e.partitioner.type}  (${graph.processors[e.from].parallelism} -> ${graph.processors[e.to].parallelism} tasks)`);
  }
  if (data.length === 0) lines.push('  (none: the whole application runs as one fused chain)');
  const late = graph.lateSink;
  if (late) lines.push(`late data: every processor -> [${late.id}] ${late.chain.join(' -> ')}`);
  return lines.join('\n');
}
