import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { adminTokenOf } from '../../cli/src/launcher.js';

export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '../..');
const bin = join(repoRoot, 'cli/bin/tributary.js');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs the real `tributary` command as a child process and waits for it to exit. A command aimed
 * (`--master <url>`) at a master this process launched gets its admin token as a user would pass
 * it, TRIBUTARY_TOKEN (unless `env` or `--token` says otherwise).
 */
export function tributary(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  const master = args[args.indexOf('--master') + 1];
  const token = args.includes('--master') && master?.startsWith('http') ? adminTokenOf(master) : undefined;
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args], {
      cwd: repoRoot,
      env: { ...process.env, TRIBUTARY_LOG_LEVEL: 'warn', ...(token ? { TRIBUTARY_TOKEN: token } : {}), ...env },
      maxBuffer: 64 << 20,
    }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}
