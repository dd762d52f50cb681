import type { AppAssignment } from '../wire/assignment.js';
import type { AppHost, AppStatus } from './app-host.js';

/**
 * An application this node refused to load (its bundle failed verification: see bundle-cache.ts),
 * kept by NodeAgent in place of a host so that its heartbeat reports the application failed here,
 * with the reason, instead of silently not running it. Nothing of it was evaluated; an update
 * (a new version or epoch) answers false, so the node tries the new assignment from scratch.
 */
export class RefusedApp implements AppHost {
  readonly status: AppStatus;
  readonly exited = Promise.resolve();

  constructor(readonly assignment: AppAssignment, error: string) {
    this.status = { state: 'failed', tasks: [], wire: {}, error };
  }

  get app(): string {
    return this.assignment.app;
  }

  start(): void {}

  deliver(): void {}

  async update(): Promise<boolean> {
    return false;
  }

  async stop(): Promise<void> {}
}
