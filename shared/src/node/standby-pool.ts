import type { Logger } from '../log/log.js';
import type { AppAssignment, StandbyApp } from '../wire/assignment.js';
import { sameSubmission, type AppHost } from './app-host.js';

/**
 * A worker's hot standbys (issue 14): for every running application the master names in the
 * worker's desired state (`standby`) and the worker hosts no task of, a host with the bundle
 * verified, evaluated and the graph built, running nothing: a thread (isolation `thread`) or an
 * InlineApp holding the graph (isolation `inline`). When a recovery moves tasks of that
 * application here, NodeAgent takes the host (take) and the run starts in it at once, instead of
 * a download and an evaluation (and, threaded, a new thread): the bulk of a worker's fail-over.
 * Called by NodeAgent.reconcile, serially. A thread costs an isolate per application held, an
 * inline standby only its graph (bench/README.md); agents never hold any.
 */
export class StandbyPool {
  private readonly held = new Map<string, { spec: StandbyApp; proc: AppHost }>();

  constructor(
    private readonly log: Logger,
    /** Fetches and verifies the bundle, starts the standby; null: not possible (logged). */
    private readonly start: (s: StandbyApp) => Promise<AppHost | null>,
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
  take(a: AppAssignment): AppHost | undefined {
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
