import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The monorepo root (bench/lib/../..). */
export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const benchDir = join(repoRoot, 'bench');
export const resultsDir = join(benchDir, 'results');
export const examplesDir = join(repoRoot, 'examples');
export const cliBin = join(repoRoot, 'cli', 'bin', 'tributary.js');
/** Loaded with --import into CLI child processes to report their own CPU time and peak RSS. */
export const childUsageHook = join(benchDir, 'lib', 'child-usage.mjs');
