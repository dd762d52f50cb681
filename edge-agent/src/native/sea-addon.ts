import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createRequire } from 'node:module';

/**
 * Native addons inside the single binary. A SEA cannot `require` a .node file from its own blob, so
 * deploy/build-agent.mjs stores each addon (today: classic-level's LevelDB) as a SEA asset and
 * replaces the package's node-gyp-build lookup with `lazyAddon(asset)`. On first use the asset is
 * written under the agent's data dir (not /tmp, which devices often mount noexec), into a private
 * folder named by the addon's content hash, and loaded from there with process.dlopen.
 */
let nativeDir: string | undefined;

/** Called by the agent (main.ts) once its data dir is known, before anything opens LevelDB. */
export function useNativeDir(dir: string): void {
  nativeDir = dir;
}

/** The addon's exports, written out and loaded on first call; the same object afterwards. */
export function loadAddon(asset: string): Record<string, unknown> {
  // node:sea is loaded only here, inside the binary (it is not in every Node 20 the CLI runs on).
  const { getAsset, isSea } = createRequire(import.meta.url)('node:sea') as typeof import('node:sea');
  if (!isSea()) throw new Error(`native addon ${asset}: only the single binary loads addons from assets`);
  if (!nativeDir) throw new Error(`native addon ${asset}: no native dir set (useNativeDir) before first use`);
  const bytes = new Uint8Array(getAsset(asset) as ArrayBuffer);
  const hash = createHash('sha256').update(bytes).digest('hex').slice(0, 16);
  const dir = join(nativeDir, hash);
  const file = join(dir, asset);
  if (!existsSync(file)) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    chmodSync(nativeDir, 0o700);
    // Written whole under a temporary name, then renamed: a second agent on the same data dir, or
    // a crash mid-write, never leaves a half-written library behind that name.
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, bytes, { mode: 0o500 });
    renameSync(tmp, file);
  }
  const module = { exports: {} as Record<string, unknown> };
  process.dlopen(module, file);
  return module.exports;
}

/**
 * A stand-in for `require('node-gyp-build')(dir)`: an object whose properties load the addon on
 * first access, so requiring the package at start (before the data dir is known) costs nothing.
 */
export function lazyAddon(asset: string): Record<string, unknown> {
  let loaded: Record<string, unknown> | undefined;
  return new Proxy({}, { get: (_t, key) => (loaded ??= loadAddon(asset))[key as string] });
}
