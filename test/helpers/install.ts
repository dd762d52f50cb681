import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmod, mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
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
      // A missing command (ENOENT: e.g. no systemd-analyze on this machine) says so in stderr.
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr: typeof err?.code === 'string' ? `${cmd}: ${err.message}\n${stderr}` : stderr });
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

/**
 * Stand-ins for systemd: systemd is not PID 1 on the development and CI machines, so systemctl, journalctl,
 * useradd, userdel, chown and id are stand-ins on PATH that keep their state in files and log
 * every call: the test checks what install.sh asks of systemd, not systemd itself (the unit is
 * checked by `systemd-analyze verify` in install.test.ts).
 */
export async function fakeSystem(dir: string, agentLogs: string) {
  const bin = join(dir, 'fake-bin');
  const state = join(dir, 'state');
  await mkdir(bin, { recursive: true });
  await mkdir(state, { recursive: true });
  const log = join(dir, 'calls.log');
  const tool = async (name: string, body: string) => {
    await writeFile(join(bin, name), `#!/bin/sh\nS='${state}'\necho "${name} $*" >> '${log}'\n${body}\n`);
    await chmod(join(bin, name), 0o755);
  };
  await tool('id', 'if [ "$1" = -u ] && [ $# -eq 1 ]; then echo 0; exit 0; fi\n[ -f "$S/user-$2" ] && echo 999');
  await tool('useradd', 'for a; do last=$a; done; touch "$S/user-$last"');
  await tool('userdel', 'rm -f "$S/user-$1"');
  await tool('chown', 'exit 0');
  await tool('systemctl', [
    'q=; [ "$2" = --quiet ] && q=1',
    'case $1 in',
    '  is-enabled) [ -f "$S/enabled" ] ;;',
    '  enable) touch "$S/enabled" ;;',
    '  disable) rm -f "$S/enabled" "$S/active" ;;',
    '  restart) touch "$S/active" ;;',
    '  daemon-reload) ;;',
    '  is-active) if [ -f "$S/active" ]; then st=active; else st=failed; fi; [ -n "$q" ] || echo $st; [ $st = active ] ;;',
    'esac',
  ].join('\n'));
  await tool('journalctl', `[ -f "$S/active" ] && printf '%s\\n' '${agentLogs}'; exit 0`);
  return {
    env: { PATH: `${bin}:${process.env.PATH}` },
    calls: async () => (await readFile(log, 'utf8').catch(() => '')).split('\n').filter((l) => /^(systemctl|useradd|userdel)/.test(l) && !/ is-(enabled|active)/.test(l)),
    reset: () => writeFile(log, ''),
    state,
  };
}
