/**
 * The agent binary's JavaScript: edge-agent/src/bin.ts and everything it imports (workspace code
 * and npm packages alike) bundled by esbuild into one CommonJS file, which Node's single
 * executable support (SEA) embeds as its main script. Used by deploy/build-agent.mjs, and by
 * test/agent-binary.test.ts for its metafile (what went into the binary).
 *
 * A SEA's main script can `require` Node's built-ins only, so whatever would be loaded from disk
 * at run time is dealt with here:
 *   - classic-level (LevelDB) finds its addon with node-gyp-build: replaced by a lazy loader that
 *     takes the addon from a SEA asset (edge-agent/src/native/sea-addon.ts);
 *   - cbor-extract (cbor-x's optional native string decoder), bufferutil and utf-8-validate (ws's
 *     optional helpers, under mqtt.js): stubbed to throw, and each package falls back to its own
 *     JavaScript path, as it does wherever the optional part is not installed;
 *   - import.meta.url (ESM-only) is defined from the CommonJS __filename.
 */
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

export const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** The SEA asset name of each target's LevelDB addon, and where classic-level ships it. */
export const LEVEL_ASSET = 'classic-level.node';
export const levelPrebuild = {
  'linux-x64': 'node_modules/classic-level/prebuilds/linux-x64/classic-level.node',
  'linux-arm64': 'node_modules/classic-level/prebuilds/linux-arm64/classic-level.armv8.node',
};

const STUBBED = ['cbor-extract', 'bufferutil', 'utf-8-validate'];

const seaPlugin = {
  name: 'tributary-agent-sea',
  setup(b) {
    const stubs = new RegExp(`^(${STUBBED.join('|')})$`);
    b.onResolve({ filter: stubs }, (args) => ({ path: args.path, namespace: 'sea-stub' }));
    b.onLoad({ filter: /.*/, namespace: 'sea-stub' }, (args) => ({
      contents: `throw new Error(${JSON.stringify(`${args.path} is not part of the tributary-agent binary (its JavaScript fallback is used)`)});`,
      loader: 'js',
    }));
    b.onLoad({ filter: /[\\/]classic-level[\\/]binding\.js$/ }, () => ({
      contents: `module.exports = require(${JSON.stringify(join(root, 'edge-agent/src/native/sea-addon.ts'))}).lazyAddon(${JSON.stringify(LEVEL_ASSET)});`,
      loader: 'js',
      resolveDir: root,
    }));
  },
};

/** Bundles bin.ts into `outfile`; returns esbuild's metafile (inputs and their sizes). */
export async function bundleAgent(outfile, { minify = true } = {}) {
  const result = await build({
    absWorkingDir: root,
    entryPoints: ['edge-agent/src/bin.ts'],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node22',
    minify,
    keepNames: true,
    legalComments: 'none',
    metafile: true,
    logLevel: 'warning',
    define: { 'import.meta.url': '__tributary_import_meta_url' },
    banner: { js: "var __tributary_import_meta_url = require('node:url').pathToFileURL(__filename).href;" },
    plugins: [seaPlugin],
  });
  return result.metafile;
}
