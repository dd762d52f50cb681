import { mkdir, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../log/log.js';
import { LevelReplayLog } from './level-replay-log.js';
import type { PartReplayLog } from './replay-log.js';

/**
 * The replay log of one application's sources on one node: a LevelDB directory under the node's
 * data dir. It belongs to one submission: a resubmitted application starts with an empty log,
 * while a restart of the same submission (a crash, a recovery) finds everything it had.
 */
export class AppReplayLog implements PartReplayLog {
  readonly log: LevelReplayLog;

  constructor(private readonly dir: string, private readonly submission: number, private readonly logger: Logger) {
    this.log = new LevelReplayLog(join(dir, 'log'));
  }

  async open(): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    const marker = join(this.dir, 'submission');
    const previous = await readFile(marker, 'utf8').catch(() => null);
    if (previous !== null && previous !== String(this.submission)) {
      this.logger.info({ dir: this.dir }, 'replay log of an earlier submission discarded');
      // A Level opens itself right after construction (abstract-level's deferred open), so by now
      // it may have the earlier submission's log open, or be opening it: close it first (close
      // waits for a pending open), else the files it writes make rm fail (ENOTEMPTY) or it reads
      // the old records and keeps running in the deleted directory. open() below reopens it.
      await this.log.close();
      await rm(join(this.dir, 'log'), { recursive: true, force: true });
    }
    await writeFile(marker, String(this.submission));
    await this.log.open();
  }

  async close(): Promise<void> {
    await this.log.close().catch(() => {});
  }

  /** What the log's files take on disk. */
  async diskBytes(): Promise<number> {
    const dir = join(this.dir, 'log');
    let total = 0;
    for (const f of await readdir(dir).catch(() => [] as string[])) {
      total += await stat(join(dir, f)).then((s) => s.size, () => 0);
    }
    return total;
  }
}
