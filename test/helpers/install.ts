import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmod, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { repoRoot } from './cli.js';

export const installScript = join(repoRoot, 'deploy/install.sh');

export interface ShResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a shell script with `sh` (dash on Debian: the POSIX shell a device has) and waits for it to exit. */
export function sh(script: string, args: string[], env: Record<string, string> = {}): Promise<ShResult> {
  return new Promise((resolve) => {
    execFile('sh', [script, ...args], { env: { ...process.env, ...env }, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

/** Runs any command (systemd-analyze, tar) and waits for it to exit. */
export function run(cmd: string, args: string[]): Promise<ShResult> {
  return new Promise((resolve) => {
    execFile(cmd, args, { maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

/** A small stand-in for the agent binary: an executable that says what it is. */
export async function standInBinary(path: string, text = 'stand-in agent'): Promise<string> {
  await writeFile(path, `#!/bin/sh\necho '${text}' "$@"\n`);
  await chmod(path, 0o755);
  return path;
}

/** Every file and directory under `root`: relative path -> mode (octal string), SHA-256 of files and mtime. */
export async function snapshot(root: string): Promise<Map<string, { mode: string; sha256?: string; mtimeMs: number }>> {
  const out = new Map<string, { mode: string; sha256?: string; mtimeMs: number }>();
  const walk = async (dir: string): Promise<void> => {
    for (const e of await readdir(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      const s = await stat(p);
      const mode = (s.mode & 0o7777).toString(8);
      if (e.isDirectory()) {
        out.set(`${relative(root, p)}/`, { mode, mtimeMs: s.mtimeMs });
        await walk(p);
      } else {
        out.set(relative(root, p), { mode, mtimeMs: s.mtimeMs, sha256: createHash('sha256').update(await readFile(p)).digest('hex') });
      }
    }
  };
  await walk(root);
  return out;
}
