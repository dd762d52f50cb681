import { build } from 'esbuild';

/**
 * Bundles an application into one ES module with everything it imports, the DSL included, so a
 * node runs exactly the code that was submitted. The require shim lets bundled CommonJS
 * dependencies load Node built-ins; optional native accelerators stay out (they fall back to JS).
 */
export async function bundleApp(entry: string): Promise<Uint8Array> {
  const result = await build({
    entryPoints: [entry],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    write: false,
    minify: false,
    sourcemap: false,
    legalComments: 'none',
    logLevel: 'silent',
    external: ['cbor-extract', 'bufferutil', 'utf-8-validate', 'classic-level', 'level'],
    banner: { js: "import { createRequire as __tribCreateRequire } from 'node:module'; const require = __tribCreateRequire(import.meta.url);" },
  });
  return result.outputFiles[0].contents;
}
