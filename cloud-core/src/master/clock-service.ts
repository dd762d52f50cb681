import { cborEncoder, topics, type AppClockMessage, type Logger, type TaskPlacement, type TaskReport, type Transport } from '@tributary/shared';

/** How many (time, clock) points of history each application keeps for charts. */
const HISTORY = 600;

export interface AppClock {
  /** The application's min-clock: nothing older than this can still arrive anywhere. */
  minClock: number;
  /** Master wall time at which it was last computed. */
  at: number;
  history: [at: number, clock: number][];
}

/**
 * The application min-clock (Gearpump's clock service): the minimum over every task of its input
 * clock, as the nodes report it in heartbeats. A placed task that has not reported yet counts as
 * -Infinity: it may still hold anything. The published clock never moves backwards, even when a
 * task is added (an agent joins) and reports an older clock: records behind it are late data.
 * Cost per report is one pass over the application's tasks, by level when they grow (kept simple
 * until a thousand-task benchmark says otherwise).
 */
export class ClockService {
  private readonly clocks = new Map<string, AppClock>();
  private readonly reports = new Map<string, Map<string, number>>();
  private readonly checkpoints = new Map<string, { epoch: number; t: number }>();

  constructor(private readonly transport: Transport, private readonly log: Logger) {}

  get(app: string): AppClock | undefined {
    return this.clocks.get(app);
  }

  /** A node reported its tasks of `app`; recompute from every placed task's latest clock. */
  onReport(app: string, placed: readonly TaskPlacement[], tasks: readonly TaskReport[]): void {
    let byTask = this.reports.get(app);
    if (!byTask) this.reports.set(app, (byTask = new Map()));
    for (const t of tasks) byTask.set(`${t.processor}.${t.index}`, t.inputClock);
    let min = Infinity;
    for (const p of placed) {
      const c = byTask.get(`${p.processor}.${p.index}`);
      min = Math.min(min, c === undefined ? -Infinity : c);
    }
    if (placed.length === 0) min = -Infinity;
    this.advance(app, min);
  }

  forget(app: string): void {
    this.clocks.delete(app);
    this.reports.delete(app);
    this.checkpoints.delete(app);
  }

  /** Checkpoint t of `app` is complete: published with the clock, so sources trim their logs. */
  setCheckpoint(app: string, epoch: number, t: number): void {
    this.checkpoints.set(app, { epoch, t });
    this.publish(app);
  }

  private publish(app: string): void {
    const cur = this.clocks.get(app);
    const cp = this.checkpoints.get(app);
    const msg: AppClockMessage = { app, clock: cur?.minClock ?? -Infinity, at: Date.now(), ...(cp ? { checkpoint: cp } : {}) };
    this.transport.publish(topics.appClock(app), cborEncoder.encode(msg), { qos: 1, retain: true })
      .catch((err: Error) => this.log.warn({ app, err: err.message }, 'cannot publish the application clock'));
  }

  private advance(app: string, computed: number): void {
    const now = Date.now();
    const cur = this.clocks.get(app) ?? { minClock: -Infinity, at: now, history: [] };
    const next = Math.max(cur.minClock, computed);
    cur.at = now;
    cur.history.push([now, next]);
    if (cur.history.length > HISTORY) cur.history.splice(0, cur.history.length - HISTORY);
    const moved = next !== cur.minClock;
    cur.minClock = next;
    this.clocks.set(app, cur);
    if (moved) this.publish(app);
  }
}
