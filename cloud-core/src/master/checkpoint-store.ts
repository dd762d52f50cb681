import { Level } from 'level';
import { sortableNumber as num } from '@tributary/shared/store';

/**
 * Where the master keeps task snapshots, so that a worker's death does not lose them. An
 * interface so that a replicated store is a second implementation; the first is LevelDB.
 */
export interface CheckpointStore {
  open(): Promise<void>;
  close(): Promise<void>;
  /** One task's encoded state (null: the task holds none) for checkpoint time t of `app`. */
  put(app: string, t: number, task: string, state: Uint8Array | null): Promise<void>;
  /** Every task's state of checkpoint t, by `processor.index` (tasks without state absent). */
  states(app: string, t: number): Promise<Map<string, Uint8Array>>;
  /** Drops the checkpoints of `app` older than t (or all of them with t = +Infinity). */
  dropBefore(app: string, t: number): Promise<void>;
}


/** Keys `<app>!<t>!<task>`, t fixed-width so a checkpoint is one range and older ones a prefix range. */
export class LevelCheckpointStore implements CheckpointStore {
  private readonly db: Level<string, Uint8Array>;

  constructor(path: string) {
    this.db = new Level<string, Uint8Array>(path, { valueEncoding: 'view' });
  }

  async open(): Promise<void> {
    await this.db.open();
  }

  async close(): Promise<void> {
    await this.db.close();
  }

  async put(app: string, t: number, task: string, state: Uint8Array | null): Promise<void> {
    if (state) await this.db.put(`${app}!${num(t)}!${task}`, state);
  }

  async states(app: string, t: number): Promise<Map<string, Uint8Array>> {
    const out = new Map<string, Uint8Array>();
    const prefix = `${app}!${num(t)}!`;
    for await (const [key, value] of this.db.iterator({ gte: prefix, lt: `${prefix}~` })) out.set(key.slice(prefix.length), value);
    return out;
  }

  async dropBefore(app: string, t: number): Promise<void> {
    const upTo = t === Infinity ? `${app}!~` : `${app}!${num(t)}`;
    await this.db.clear({ gte: `${app}!`, lt: upTo });
  }
}
