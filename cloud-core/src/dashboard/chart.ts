import uPlot from 'uplot';

/** Keep about ten minutes of one-second points in the browser. */
const MAX_POINTS = 600;

/**
 * Clock lag and throughput over time (uPlot: canvas, cheap to append to). Seeded from the
 * clock history the master keeps, then fed one point per pushed snapshot.
 */
export class LagChart {
  private readonly data: [number[], (number | null)[], (number | null)[]] = [[], [], []];
  private readonly plot: uPlot;

  constructor(container: HTMLElement) {
    this.plot = new uPlot({
      width: Math.max(320, container.clientWidth || 640), height: 220,
      scales: { x: { time: true }, lag: { auto: true }, rps: { auto: true } },
      series: [
        {},
        { label: 'clock lag (s)', scale: 'lag', stroke: '#c62828', width: 2 },
        { label: 'throughput (records/s)', scale: 'rps', stroke: '#1565c0', width: 1 },
      ],
      axes: [{}, { scale: 'lag', label: 'lag (s)' }, { scale: 'rps', side: 1, label: 'records/s', grid: { show: false } }],
    }, this.data, container);
  }

  seed(history: [number, number | 'start' | 'end'][]): void {
    for (const [at, c] of history.slice(-MAX_POINTS)) this.push(at, typeof c === 'number' ? at - c : null, null, false);
    this.plot.setData(this.data);
  }

  push(at: number, lagMs: number | null, rps: number | null, redraw = true): void {
    const t = at / 1000;
    const [xs, lags, rpss] = this.data;
    if (xs.length && t <= xs[xs.length - 1]) return;
    xs.push(t);
    lags.push(lagMs === null ? null : lagMs / 1000);
    rpss.push(rps);
    if (xs.length > MAX_POINTS) for (const s of this.data) s.shift();
    if (redraw) this.plot.setData(this.data);
  }

  destroy(): void {
    this.plot.destroy();
  }
}
