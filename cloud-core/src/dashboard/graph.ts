import cytoscape from 'cytoscape';
import type { AppStats } from '../master/snapshot.js';
import { rate } from './dom.js';

const COLOURS = { edge: '#2e7d32', cloud: '#1565c0', mixed: '#6a1b9a', unplaced: '#9e9e9e' } as const;

/**
 * The application DAG with cytoscape: processors grouped in an "edge" and a "cloud" compound
 * box and coloured by where their tasks run; node size grows with throughput and edge width with
 * the flow rate (both on a log scale so a 1 M/s source does not swallow the page); red for a
 * processor with a failing or lagging task. The layout runs once; updates only restyle.
 */
export class DagView {
  readonly cy: cytoscape.Core;
  private shape = '';

  constructor(container: HTMLElement, private readonly onSelect: (processor: number) => void) {
    this.cy = cytoscape({
      container, userZoomingEnabled: true, boxSelectionEnabled: false, autoungrabify: true,
      style: [
        { selector: 'node[size]', style: { label: 'data(label)', 'text-wrap': 'wrap', 'text-valign': 'bottom', 'text-halign': 'center', 'text-margin-y': 4, 'text-max-width': '260px', color: '#222', 'text-outline-color': '#fff', 'text-outline-width': 2, 'font-size': 11, width: 'data(size)', height: 'data(size)', 'background-color': 'data(colour)', 'border-width': 0 } },
        { selector: 'node[size].bad', style: { 'background-color': '#c62828', color: '#c62828', 'border-width': 4, 'border-color': '#ff8a80' } },
        { selector: ':parent', style: { 'background-opacity': 0.06, 'background-color': 'data(colour)', 'border-width': 1, 'border-color': 'data(colour)', label: 'data(label)', color: '#333', 'text-valign': 'top', 'font-size': 12, shape: 'round-rectangle', padding: '18px' } },
        { selector: 'edge', style: { width: 'data(width)', 'curve-style': 'bezier', 'target-arrow-shape': 'triangle', 'line-color': '#90a4ae', 'target-arrow-color': '#90a4ae', label: 'data(label)', 'font-size': 10, 'text-background-color': '#fff', 'text-background-opacity': 1 } },
        { selector: 'edge.late', style: { 'line-style': 'dashed' } },
      ],
    });
    this.cy.on('tap', 'node', (ev) => {
      const p = ev.target.data('processor') as number | undefined;
      if (p !== undefined) this.onSelect(p);
    });
  }

  update(app: AppStats): void {
    const shape = JSON.stringify([app.processors.map((p) => [p.id, p.runsOn]), app.edges.map((e) => [e.from, e.to])]);
    if (shape !== this.shape) this.rebuild(app, shape);
    for (const p of app.processors) {
      const n = this.cy.getElementById(`p${p.id}`);
      n.data({ label: `${p.name}\n[${p.runsOn}] ×${p.tasks.length}\n${rate(p.outRate)}`, size: 46 + 14 * Math.log10(1 + p.outRate), colour: COLOURS[p.runsOn], problem: p.problem ?? '' });
      n.toggleClass('bad', p.problem !== null && app.state === 'running');
    }
    for (const e of app.edges) this.cy.getElementById(`e${e.from}-${e.to}-${e.kind}`).data({ width: 1 + 2 * Math.log10(1 + e.rate), label: `${e.partitioner} ${rate(e.rate)}` });
  }

  private rebuild(app: AppStats, shape: string): void {
    this.shape = shape;
    this.cy.elements().remove();
    const groups = new Set(app.processors.map((p) => p.runsOn));
    this.cy.add([...groups].map((g) => ({ data: { id: `g-${g}`, label: g === 'edge' ? 'edge (agents)' : g === 'cloud' ? 'cloud (workers)' : g, colour: COLOURS[g] } })));
    this.cy.add(app.processors.map((p) => ({ data: { id: `p${p.id}`, parent: `g-${p.runsOn}`, processor: p.id, name: p.name, runsOn: p.runsOn, label: p.name, size: 46, colour: COLOURS[p.runsOn] } })));
    this.cy.add(app.edges.map((e) => ({ data: { id: `e${e.from}-${e.to}-${e.kind}`, source: `p${e.from}`, target: `p${e.to}`, width: 1, label: e.partitioner }, classes: e.kind })));
    // Left to right by depth in the DAG (a preset layout): with compound groups, cytoscape's
    // generic layouts let the edge and cloud boxes overlap; ranks keep them apart.
    const rank = ranks(app);
    const perRank = new Map<number, number>();
    this.cy.layout({
      name: 'preset', padding: 20,
      positions: (n: cytoscape.NodeSingular) => {
        const r = rank.get(n.data('processor') as number) ?? 0;
        const row = perRank.get(r) ?? 0;
        perRank.set(r, row + 1);
        return { x: r * 300, y: row * 150 };
      },
    } as cytoscape.LayoutOptions).run();
    this.cy.fit(undefined, 30);
  }

  destroy(): void {
    this.cy.destroy();
  }
}

/** Longest path from a source, per processor: its column in the drawing. */
function ranks(app: AppStats): Map<number, number> {
  const rank = new Map(app.processors.map((p) => [p.id, 0]));
  for (let pass = 0; pass < app.processors.length; pass++) {
    for (const e of app.edges) rank.set(e.to, Math.max(rank.get(e.to) ?? 0, (rank.get(e.from) ?? 0) + 1));
  }
  return rank;
}
