import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';
import { Graph } from '../dag/graph.js';
import { AppError, ErrorCodes, isTributaryError } from '../errors.js';
import { Pipeline } from '../dsl/stream.js';
import { Params } from './params.js';

/** What an application module exports by default. */
export type AppDefinition = Pipeline | Graph;
export type AppFactory = (params: Params) => AppDefinition | Promise<AppDefinition>;

/** Turns whatever the module's default export is into a planned Graph. */
export async function resolveApp(exported: unknown, params: Params, origin = 'application'): Promise<Graph> {
  let def: unknown = exported;
  if (typeof def === 'function') def = await (def as AppFactory)(params);
  // Duck-typed on purpose: an application bundle carries its own copy of the DSL, so its
  // Pipeline and Graph are not the host's classes; only their shape is the contract.
  if (def instanceof Pipeline || isPipelineLike(def)) return def.compile();
  if (def instanceof Graph || isGraphLike(def)) return def;
  throw new AppError(
    ErrorCodes.APP_INVALID,
    `${origin}: the default export must be a pipeline, a graph, or a function of the params returning one`,
  );
}

/** Imports an application module (a .ts file runs through tsx) and plans it with `params`. */
export async function loadApp(path: string, params: Params): Promise<Graph> {
  let mod: { default?: unknown };
  try {
    mod = (await import(pathToFileURL(resolve(path)).href)) as { default?: unknown };
  } catch (cause) {
    if (isTributaryError(cause)) throw cause;
    throw new AppError(ErrorCodes.APP_INVALID, `cannot load application ${path}: ${(cause as Error).message}`, { cause });
  }
  if (mod.default === undefined) throw new AppError(ErrorCodes.APP_INVALID, `${path} has no default export (export default pipeline(...) or a function of params)`);
  return resolveApp(mod.default, params, path);
}

function isPipelineLike(v: unknown): v is { compile(): Graph } {
  return typeof v === 'object' && v !== null && typeof (v as { compile?: unknown }).compile === 'function' && Array.isArray((v as { nodes?: unknown }).nodes);
}

function isGraphLike(v: unknown): v is Graph {
  return typeof v === 'object' && v !== null && Array.isArray((v as Graph).processors) && Array.isArray((v as Graph).edges) && typeof (v as Graph).inputs === 'function';
}
