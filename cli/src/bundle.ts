import { access } from 'node:fs/promises';
import { resolve } from 'node:path';
import { AppError, ErrorCodes, evaluateBundle, bundleHeader, resolveApp, type Graph, type Params } from '@tributary/shared';

/**
 * Bundles an application into one CommonJS file holding only its own code and its own
 * dependencies: `tributary` is external (the hosting process supplies its API), and so are the
 * optional native accelerators some dependencies probe for. The first line records the API
 * version the bundle was built against (see shared/src/node/app-bundle.ts).
 */
export async function bundleApp(entry: string): Promise<Uint8Array> {
  // esbuild loads on first use: commands that bundle nothing (master, agent, --version) skip it.
  const { build } = await import('esbuild');
  const result = await build({
    entryPoints: [entry],
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    write: false,
    minify: false,
    sourcemap: false,
    legalComments: 'none',
    logLevel: 'silent',
    external: ['tributary', 'cbor-extract', 'bufferutil', 'utf-8-validate', 'classic-level', 'level'],
    banner: { js: bundleHeader() },
  }).catch((err: { errors?: { text: string }[]; message?: string }) => {
    const why = err.errors?.map((e) => e.text).join('; ') ?? err.message ?? String(err);
    throw new AppError(ErrorCodes.APP_INVALID, `cannot bundle application ${entry}: ${why}`, { cause: err });
  });
  return result.outputFiles[0].contents;
}

/**
 * Bundles the application module at `path`, evaluates the bundle against this process's API, and
 * plans it: the plan is always the plan of the very bytes a node will run.
 */
export async function bundleAndPlan(path: string, params: Params): Promise<{ bundle: Uint8Array; graph: Graph }> {
  const file = resolve(path);
  await access(file).catch((cause: Error) => {
    throw new AppError(ErrorCodes.APP_INVALID, `cannot load application ${path}: ${cause.message}`, { cause });
  });
  const bundle = await bundleApp(file);
  const graph = await resolveApp(evaluateBundle(new TextDecoder().decode(bundle), file), params, path);
  return { bundle, graph };
}

/** Plans the application module at `path` (bundled and evaluated as a node would). */
export async function loadApp(path: string, params: Params): Promise<Graph> {
  return (await bundleAndPlan(path, params)).graph;
}
