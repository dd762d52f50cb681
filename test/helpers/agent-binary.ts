import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ChildNode } from '../../cli/src/launcher.js';
import { repoRoot } from './cli.js';

/**
 * The single-binary agent in tests and benchmarks: built by deploy/build-agent.mjs (cached by
 * content hash: unchanged inputs cost a bundle, ~1 s), started as a real process with an
 * environment whose PATH holds no `node`, its structured log read like any node's (ChildNode).
 */
export type Target = 'linux-x64' | 'linux-arm64';

export const binaryPath = (target: Target): string => join(repoRoot, 'dist', `tributary-agent-${target}`);

/** Where esbuild's metafile of the binary's JavaScript is written by the build. */
export const bundleMetaPath = join(repoRoot, '.cache/agent-build/tributary-agent.meta.json');

export async function buildAgentBinaries(targets: Target[]): Promise<void> {
  await promisify(execFile)(process.execPath, [join(repoRoot, 'deploy/build-agent.mjs'), '--no-compress', ...targets.flatMap((t) => ['--target', t])], {
    cwd: repoRoot, maxBuffer: 16 << 20,
  });
}

/** The arm64 C runtime for qemu-user (deploy/arm64-sysroot.sh; cached under .cache/). */
export async function arm64Sysroot(): Promise<string> {
  const { stdout } = await promisify(execFile)('bash', [join(repoRoot, 'deploy/arm64-sysroot.sh')], { cwd: repoRoot });
  return stdout.trim().split('\n').pop()!;
}

export const QEMU_AARCH64 = '/usr/bin/qemu-aarch64-static';

/** Binaries still running when this process exits (a test timed out) are killed with it. */
const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/** A PATH of one empty directory: no `node`, no npm, nothing the agent could lean on. */
export function pathWithoutNode(): string {
  return mkdtempSync(join(tmpdir(), 'tributary-empty-path-'));
}

export interface SpawnOptions {
  /** Added to the minimal environment. */
  env?: Record<string, string>;
  /** arm64: the sysroot for qemu-user (arm64Sysroot()). */
  sysroot?: string;
  /** Another copy of the target's binary (the bench runs one written as a device would). */
  bin?: string;
}

/**
 * Starts the binary (`args` as on a device). For arm64, through qemu-user with the sysroot. The
 * environment is minimal: PATH without node, HOME, the log level, plus `env`.
 */
export function spawnAgentBinary(name: string, target: Target, args: string[], { env = {}, sysroot, bin = binaryPath(target) }: SpawnOptions = {}): ChildNode {
  const [cmd, argv] = target === 'linux-arm64' ? [QEMU_AARCH64, ['-L', sysroot!, bin, ...args]] : [bin, args];
  const child = spawn(cmd, argv, {
    env: { PATH: pathWithoutNode(), HOME: tmpdir(), TRIBUTARY_LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  child.once('exit', () => running.delete(child));
  return new ChildNode(name, child);
}

/** Runs the binary to completion (--version, --help); stdout, stderr and exit code. */
export async function runAgentBinary(target: Target, args: string[], sysroot?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const bin = binaryPath(target);
  const [cmd, argv] = target === 'linux-arm64' ? [QEMU_AARCH64, ['-L', sysroot!, bin, ...args]] : [bin, args];
  return new Promise((resolve) => {
    execFile(cmd, argv, { env: { PATH: pathWithoutNode() } }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}
