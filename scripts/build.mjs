#!/usr/bin/env node
/**
 * `npm run build`: compiles the TypeScript sources once into plain JavaScript that production
 * commands run (tsx stays for tests' own code and development):
 *   cli/dist/tributary.mjs   the `tributary` command: run, plan, submit, master, worker, agent, …
 *   cli/dist/app-thread.mjs  the entry of an application's worker thread on a node
 *   cli/dist/plan-thread.mjs the entry of the master's thread that plans a submitted bundle
 * Workspace code (@tributary/*) is compiled in; npm packages stay external and load from
 * node_modules, as they would for any installed package. Source maps point back to the sources.
 */
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** Bundles workspace packages in, leaves npm packages external. */
const workspacesInside = {
  name: 'workspaces-inside',
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, (args) => {
      if (args.path === 'tributary' || args.path.startsWith('@tributary/')) return undefined;
      return { path: args.path, external: true };
    });
  },
};

const started = performance.now();
await build({
  absWorkingDir: root,
  entryPoints: {
    tributary: 'cli/src/main.ts',
    'app-thread': 'shared/src/node/app-thread.ts',
    'plan-thread': 'shared/src/node/plan-thread.ts',
  },
  outdir: 'cli/dist',
  outExtension: { '.js': '.mjs' },
  bundle: true,
  // Code behind a dynamic import (the master's fastify, aedes, prom-client) becomes a chunk of its
  // own, loaded when a command needs it: `tributary --version`, an agent or `run` never load it.
  // Chunks sit next to the entries, so `new URL('./app-thread.mjs', import.meta.url)` holds in them.
  splitting: true,
  chunkNames: 'chunk-[hash]',
  platform: 'node',
  format: 'esm',
  target: 'node20',
  sourcemap: 'linked',
  legalComments: 'none',
  logLevel: 'warning',
  plugins: [workspacesInside],
});
process.stderr.write(`built cli/dist in ${Math.round(performance.now() - started)} ms\n`);
