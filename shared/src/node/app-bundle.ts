import { createRequire } from 'node:module';
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import * as api from '../api/index.js';
import { AppError, ErrorCodes } from '../api/errors.js';
import { API_VERSION, canHostApi } from '../api/version.js';

/**
 * Application bundles. `tributary bundle`/`submit` (esbuild) writes one CommonJS file holding only
 * the application's own code and its own dependencies, with `tributary` left external, behind a
 * first line that records the API version it was built against:
 *
 *   /*! tributary-bundle api=1.0.0 *\/
 *
 * The hosting process evaluates it with a `require` that answers `tributary` with its own API
 * module: one copy of the API and runtime per process, `instanceof` holds across the boundary,
 * and a bundle weighs kilobytes. The same loader serves worker threads, inline apps, the single
 * binary (no ESM loader hooks needed) and `tributary run`.
 */
export const BUNDLE_HEADER = '/*! tributary-bundle api=';

/** The first line of a bundle built against `version`. */
export function bundleHeader(version = API_VERSION): string {
  return `${BUNDLE_HEADER}${version} */`;
}

/** The API version a bundle records, or null when it has no header (not built by tributary). */
export function bundleApiVersion(code: string): string | null {
  if (!code.startsWith(BUNDLE_HEADER)) return null;
  const end = code.indexOf(' */', BUNDLE_HEADER.length);
  return end < 0 ? null : code.slice(BUNDLE_HEADER.length, end);
}

/**
 * Evaluates a bundle and returns its default export. Refuses, with TRIB_ERR_API_VERSION, a bundle
 * built against an API this process cannot host (checked before any of its code runs).
 */
export function evaluateBundle(code: string, filename: string): unknown {
  const version = bundleApiVersion(code);
  if (version === null) throw new AppError(ErrorCodes.APP_INVALID, `${filename}: not a tributary application bundle (no '${BUNDLE_HEADER}…' header)`);
  if (!canHostApi(API_VERSION, version)) {
    throw new AppError(ErrorCodes.API_VERSION, `${filename}: built against tributary API ${version}; this node hosts API ${API_VERSION} (same major, minor ≤ ${API_VERSION.split('.')[1]})`);
  }
  const hostRequire = createRequire(resolve(filename));
  const require = (id: string): unknown => (id === 'tributary' ? api : hostRequire(id));
  const module = { exports: {} as Record<string, unknown> };
  // The CommonJS wrapper, as Node's own loader builds it; `new Function` compiles in this realm.
  const wrapper = new Function('exports', 'require', 'module', '__filename', '__dirname', code) as
    (e: unknown, r: unknown, m: unknown, f: string, d: string) => void;
  try {
    wrapper(module.exports, require, module, resolve(filename), dirname(resolve(filename)));
  } catch (cause) {
    throw new AppError(ErrorCodes.APP_INVALID, `${filename}: the application module threw while loading: ${(cause as Error)?.message ?? String(cause)}`, { cause });
  }
  const exported = module.exports as { default?: unknown; __esModule?: boolean };
  if (exported.default === undefined) throw new AppError(ErrorCodes.APP_INVALID, `${filename} has no default export (export default pipeline(...) or a function of params)`);
  return exported.default;
}

/** Reads and evaluates a bundle file. */
export async function loadBundle(path: string): Promise<unknown> {
  return evaluateBundle(await readFile(path, 'utf8'), path);
}
