import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Logger } from '@tributary/shared';
import type { EventLog } from './events.js';
import { openApiDocument } from './openapi.js';
import type { Snapshot } from './snapshot.js';
import type { Stats } from './stats.js';
import type { Registry as PromRegistry } from 'prom-client';

/** The dashboard's sources, found through the package (the same from the sources and from cli/dist). */
const dashboardDir = join(dirname(createRequire(import.meta.url).resolve('@tributary/cloud-core/package.json')), 'src/dashboard/');
/** SSE comment lines keep idle proxies and browsers from timing the stream out. */
const KEEPALIVE_MS = 15_000;

/**
 * Dashboard and observability routes: the page (/, /app.js, /app.css), the live stream (/stream,
 * Server-Sent Events), /snapshot, /events, /metrics (Prometheus) and /openapi.json.
 */
export function registerDashboardRoutes(app: FastifyInstance, deps: { stats: Stats; events: EventLog; metrics: PromRegistry; log: Logger }): void {
  const assets = lazyBundle(deps.log);

  app.get('/', async (_req, reply) => reply.type('text/html; charset=utf-8').send(await readFile(`${dashboardDir}index.html`)));
  app.get('/app.js', async (_req, reply) => reply.type('text/javascript; charset=utf-8').header('cache-control', 'no-cache').send((await assets()).js));
  app.get('/app.css', async (_req, reply) => reply.type('text/css; charset=utf-8').header('cache-control', 'no-cache').send((await assets()).css));

  app.get('/openapi.json', async () => openApiDocument());
  app.get('/snapshot', async () => deps.stats.snapshot());
  app.get<{ Querystring: { since?: string; limit?: string } }>('/events', async (req) => {
    const since = Number(req.query.since ?? 0);
    const limit = Math.min(500, Math.max(1, Number(req.query.limit ?? 100) || 100));
    return deps.events.recent(limit, Number.isFinite(since) ? since : 0);
  });
  app.get('/metrics', async (_req, reply) => reply.type(deps.metrics.contentType).send(await deps.metrics.metrics()));

  const streams = new Set<() => void>();
  app.get('/stream', (req, reply) => {
    // The stream outlives the handler: take the raw socket over from fastify.
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache, no-transform', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    res.write('retry: 2000\n\n');
    const send = (s: Snapshot) => res.write(`event: snapshot\nid: ${s.at}\ndata: ${serialise(s)}\n\n`);
    send(deps.stats.snapshot());
    deps.stats.on('snapshot', send);
    const keepalive = setInterval(() => res.write(': keep-alive\n\n'), KEEPALIVE_MS);
    const close = () => {
      clearInterval(keepalive);
      deps.stats.off('snapshot', send);
      streams.delete(close);
      res.end();
    };
    streams.add(close);
    req.raw.on('close', close);
  });
  // Open streams would keep fastify's close waiting forever: end them first.
  app.addHook('preClose', async () => {
    for (const close of [...streams]) close();
  });
}

/** One JSON per snapshot however many viewers: serialising is the per-tick cost that matters. */
const serialised = new WeakMap<Snapshot, string>();
function serialise(s: Snapshot): string {
  let json = serialised.get(s);
  if (json === undefined) serialised.set(s, (json = JSON.stringify(s)));
  return json;
}

/**
 * Bundles the front end (cytoscape, uPlot and our modules) with esbuild in memory, on the first
 * request: masters that nobody looks at (tests, headless clusters) never pay for it, and nothing
 * is fetched from the internet at run time.
 */
function lazyBundle(log: Logger): () => Promise<{ js: string; css: string }> {
  let built: Promise<{ js: string; css: string }> | null = null;
  return () => {
    built ??= (async () => {
      const started = Date.now();
      const { build } = await import('esbuild');
      const out = await build({
        entryPoints: [`${dashboardDir}main.ts`], bundle: true, write: false, minify: true, format: 'iife', target: 'es2020',
        outdir: 'dist', entryNames: 'app', loader: { '.css': 'css' }, logLevel: 'silent',
      });
      const text = (ext: string) => out.outputFiles.find((f) => f.path.endsWith(ext))?.text ?? '';
      const assets = { js: text('.js'), css: text('.css') };
      log.info({ ms: Date.now() - started, jsBytes: assets.js.length, cssBytes: assets.css.length }, 'dashboard bundled');
      return assets;
    })().catch((err: Error) => {
      built = null;
      throw err;
    });
    return built;
  };
}
