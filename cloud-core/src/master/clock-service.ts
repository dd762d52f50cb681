import { cborEncoder, topics, type AppClockMessage, type Logger, type TaskPlacement, type TaskReport, type Transport } from '@tributary/shared';
import { MinTracker } from './min-tracker.js';

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
 * Cost per report is O(changed tasks × log tasks) (a MinTracker per application); a new
 * placement (another `placed` array: AppManager replaces it on every change) costs one pass.
 */
export class ClockService {
  private readonly clocks = new Map<string, AppClock>();
  private readonly trackers = new Map<string, { placed: readonly TaskPlacement[]; min: MinTracker }>();
  private readonly checkpoints = new Map<string, { epoch: number; t: number }>();

  constructor(private readonly transport: Transport, private readonly log: Logger) {}

  get(app: string): AppClock | undefined {
    return this.clocks.get(app);
  }

  /** A node reported its tasks of `app` (AppManager, per heartbeat); updates only what changed. */
  onReport(app: string, placed: readonly TaskPlacement[], tasks: readonly TaskReport[]): void {
    let tr = this.trackers.get(app);
    if (!tr || tr.placed !== placed) {
      const min = new MinTracker(placed.map((p) => taskKey(p.processor, p.index)), tr?.min);
      this.trackers.set(app, (tr = { placed, min }));
    }
    for (const t of tasks) tr.min.set(taskKey(t.processor, t.index), t.inputClock);
    this.advance(app, placed.length === 0 ? -Infinity : tr.min.min());
  }

  forget(app: string): void {
    this.clocks.delete(app);
    this.trackers.delete(app);
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
    // History is for charts: one point per 100 ms is plenty (a report per node per second would
    // otherwise fill it with thousands of points a second on a big fleet).
    const last = cur.history[cur.history.length - 1];
    if (last && now - last[0] < 100) last[1] = next;
    else cur.history.push([now, next]);
    if (cur.history.length > HISTORY) cur.history.splice(0, cur.history.length - HISTORY);
    const moved = next !== cur.minClock;
    cur.minClock = next;
    this.clocks.set(app, cur);
    if (moved) this.publish(app);
  }
}

function taskKey(processor: number, index: number): number {
  return processor * 65_536 + index;
}
