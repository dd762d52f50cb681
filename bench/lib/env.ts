import { execFileSync } from 'node:child_process';
import { availableParallelism, cpus, platform, release, totalmem } from 'node:os';
import { repoRoot } from './paths.js';

export interface Environment {
  date: string;
  commit: string | null;
  /** Uncommitted changes in the tree when the benchmark ran (null when git is unavailable). */
  dirty: boolean | null;
  node: string;
  v8: string;
  platform: string;
  cpuModel: string;
  cpuCount: number;
  totalMemMB: number;
}

function git(args: string[]): string | null {
  try {
    return execFileSync('git', args, { cwd: repoRoot, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return null;
  }
}

export function environment(): Environment {
  const status = git(['status', '--porcelain']);
  const cpuList = cpus();
  return {
    date: new Date().toISOString(),
    commit: git(['rev-parse', '--short', 'HEAD']),
    dirty: status === null ? null : status.length > 0,
    node: process.version,
    v8: process.versions.v8,
    platform: `${platform()} ${release()}`,
    cpuModel: cpuList[0]?.model?.trim() ?? 'unknown',
    cpuCount: availableParallelism(),
    totalMemMB: Math.round(totalmem() / 2 ** 20),
  };
}
