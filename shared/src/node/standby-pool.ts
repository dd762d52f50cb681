import type { Logger } from '../log/log.js';
import type { AppAssignment, StandbyApp } from '../wire/assignment.js';
import type { ThreadApp } from './thread-app.js';

/**
 * A worker's hot standbys (issue 14): for every running application the master names in the
 * worker's desired state (`standby`) and the worker hosts no task of, a thread with the bundle
 * verified, evaluated and the graph built, running nothing. When a recovery moves tasks of that
 * application here, NodeAgent takes the thread (take) and the run starts in it at once, instead
 * of a new thread, a download and an evaluation (the bulk of a worker's fail-over).
 * Called by NodeAgent.reconcile, serially. Costs one isolate per application held (see
 * bench/README.md for the RSS); agents never hold any.
 */
export class StandbyPool {
  private readonly held = new Map<string, { spec: StandbyApp; proc: ThreadApp }>();

  constructor(
    private readonly log: Logger,
    /** Fetches and verifies the bundle, starts the standby thread; null: not possible (logged). */
    private readonly start: (s: StandbyApp) => Promise<ThreadApp | null>,
  ) {}

  /** Holds a standby for each of `wanted` not hosted here; ends those no longer wanted. */
  async reconcile(wanted: readonly StandbyApp[], hosted: (app: string) => boolean): Promise<void> {
    const byApp = new Map(wanted.map((s) => [s.app, s]));
    for (const [app, h] of [...this.held]) {
      const w = byApp.get(app);
      if (!w || hosted(app) || !sameSubmission(h.spec, w) || h.proc.status.state === 'failed') await this.drop(app, 'no longer wanted');
    }
    for (const s of byApp.values()) {
      if (hosted(s.app) || this.held.has(s.app)) continue;
      const proc = await this.start(s).catch((err: Error) => {
        this.log.warn({ app: s.app, err: err.message }, 'standby not started');
        return null;
      });
      if (proc) this.held.set(s.app, { spec: s, proc });
    }
  }

  /**
   * The standby for `a`'s application, handed over (no longer held), if it is of the same
   * submission (bundle, params) and has not failed; any other is ended. Undefined: start cold.
   */
  take(a: AppAssignment): ThreadApp | undefined {
    const h = this.held.get(a.app);
    if (!h) return undefined;
    this.held.delete(a.app);
    if (sameSubmission(h.spec, a) && h.proc.status.state !== 'failed') return h.proc;
    void h.proc.stop();
    return undefined;
  }

  /** The applications held warm now. */
  apps(): string[] {
    return [...this.held.keys()];
  }

  async clear(): Promise<void> {
    await Promise.all([...this.held.keys()].map((app) => this.drop(app, 'node stopping')));
  }

  private async drop(app: string, why: string): Promise<void> {
    const h = this.held.get(app);
    if (!h) return;
    this.held.delete(app);
    this.log.info({ event: 'standby-dropped', app, why }, 'standby ended');
    await h.proc.stop();
  }
}

function sameSubmission(a: Pick<StandbyApp, 'app' | 'bundle' | 'params' | 'submission'>, b: Pick<StandbyApp, 'app' | 'bundle' | 'params' | 'submission'>): boolean {
  return a.app === b.app && a.bundle.sha256 === b.bundle.sha256 && a.submission === b.submission && JSON.stringify(a.params) === JSON.stringify(b.params);
}
