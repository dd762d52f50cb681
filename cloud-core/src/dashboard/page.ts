import type { Snapshot } from '../master/snapshot.js';

/** A page draws itself into `root` once, then updates in place for every snapshot. */
export interface Page {
  update(s: Snapshot): void;
  destroy?(): void;
}
