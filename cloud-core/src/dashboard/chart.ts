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

/** hh:mm:ss of an epoch-seconds value, for time-valued y axes. */
const hms = (s: number) => new Date(s * 1000).toISOString().slice(11, 19);

/**
 * The application min-clock over time (uPlot), with the wall clock as a reference line: the
 * vertical gap between them is the clock lag; a flat min-clock line is a stalled application.
 * Seeded from GET /apps/:id/clock's history, then one point per pushed snapshot. The container's
 * `data-points` says how many points have a min-clock (tests wait on it).
 */
export class ClockChart {
  private readonly data: [number[], (number | null)[], (number | null)[]] = [[], [], []];
  private readonly plot: uPlot;

  constructor(private readonly container: HTMLElement) {
    this.plot = new uPlot({
      width: Math.max(320, container.clientWidth || 640), height: 220,
      scales: { x: { time: true }, clock: { auto: true } },
      series: [
        {},
        { label: 'min-clock', scale: 'clock', stroke: '#2e7d32', width: 2, value: (_u, v) => (v === null ? '—' : hms(v)) },
        { label: 'wall clock', scale: 'clock', stroke: '#90a4ae', width: 1, dash: [4, 4], value: (_u, v) => (v === null ? '—' : hms(v)) },
      ],
      axes: [{}, { scale: 'clock', label: 'event time (UTC)', size: 70, values: (_u, vals) => vals.map((v) => hms(v)) }],
    }, this.data, container);
  }

  /** History points older than what is drawn already (a snapshot may have arrived first). */
  seed(history: [number, number | 'start' | 'end'][]): void {
    const [xs, clocks, walls] = this.data;
    const first = xs.length ? xs[0] : Infinity;
    const older = history.filter(([at]) => at / 1000 < first).slice(-MAX_POINTS);
    xs.unshift(...older.map(([at]) => at / 1000));
    clocks.unshift(...older.map(([, c]) => (typeof c === 'number' ? c / 1000 : null)));
    walls.unshift(...older.map(([at]) => at / 1000));
    while (xs.length > MAX_POINTS) for (const s of this.data) s.shift();
    this.container.dataset.points = String(clocks.filter((c) => c !== null).length);
    this.plot.setData(this.data);
  }

  push(at: number, clock: number | 'start' | 'end', redraw = true): void {
    const t = at / 1000;
    const [xs, clocks, walls] = this.data;
    if (xs.length && t <= xs[xs.length - 1]) return;
    xs.push(t);
    clocks.push(typeof clock === 'number' ? clock / 1000 : null);
    walls.push(t);
    if (xs.length > MAX_POINTS) for (const s of this.data) s.shift();
    this.container.dataset.points = String(clocks.filter((c) => c !== null).length);
    if (redraw) this.plot.setData(this.data);
  }

  destroy(): void {
    this.plot.destroy();
  }
}
