import { Graph } from '../dag/graph.js';
import { AppError, ErrorCodes } from '../errors.js';
import { Pipeline } from '../dsl/stream.js';
import { Params } from './params.js';

/** What an application module exports by default. */
export type AppDefinition = Pipeline | Graph;
export type AppFactory = (params: Params) => AppDefinition | Promise<AppDefinition>;

/** Turns whatever the module's default export is into a planned Graph. */
export async function resolveApp(exported: unknown, params: Params, origin = 'application'): Promise<Graph> {
  let def: unknown = exported;
  if (typeof def === 'function') def = await (def as AppFactory)(params);
  // Bundles get the host's API, so these are the host's classes; the shape check stays for a
  // module that brought its own copy of the API (bundled it in): its shape is the contract.
  if (def instanceof Pipeline || isPipelineLike(def)) return def.compile();
  if (def instanceof Graph || isGraphLike(def)) return def;
  throw new AppError(
    ErrorCodes.APP_INVALID,
    `${origin}: the default export must be a pipeline, a graph, or a function of the params returning one`,
  );
}

function isPipelineLike(v: unknown): v is { compile(): Graph } {
  return typeof v === 'object' && v !== null && typeof (v as { compile?: unknown }).compile === 'function' && Array.isArray((v as { nodes?: unknown }).nodes);
}

function isGraphLike(v: unknown): v is Graph {
  return typeof v === 'object' && v !== null && Array.isArray((v as Graph).processors) && Array.isArray((v as Graph).edges) && typeof (v as Graph).inputs === 'function';
}
