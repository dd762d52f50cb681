import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { z } from 'zod';
import { isTributaryError, type Logger } from '@tributary/shared';
import type { AppManager } from './app-manager.js';
import type { Registry } from './registry.js';
import type { MasterStore } from './master-store.js';
import { clockJson } from './clock-json.js';
import type { DeviceRegistry } from './device-registry.js';
import { registerDeviceRoutes } from './device-routes.js';
import { registerDashboardRoutes } from './dashboard-routes.js';
import { AgentArtefacts } from './agent-artefacts.js';
import { registerInstallRoutes, type InstallRoutesOptions } from './install-routes.js';
import type { DeviceTraffic } from './device-traffic.js';
import { EventLog } from './events.js';
import { createMetrics, type BrokerStatsSource } from './metrics.js';
import { registerAdminAuth } from './admin-auth.js';
import type { AdminTokens } from './admin-tokens.js';
import { registerTokenRoutes } from './token-routes.js';
import { Stats } from './stats.js';
import type { RolloutManager } from './rollout-manager.js';
import { registerRolloutRoutes } from './rollout-routes.js';

const placement = z.object({ where: z.enum(['edge', 'cloud', 'any']), selector: z.record(z.string(), z.string()).optional() });
const submissionSchema = z.object({
  /** Optional: the master plans the bundle itself; a plan sent along must equal that plan. */
  plan: z.object({
    app: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'application names are 1-64 letters, digits, _ . -'),
    processors: z.array(z.object({
      id: z.number().int().min(0), name: z.string(), parallelism: z.number().int().min(1).max(65_535), placement,
      source: z.string().nullable(), chain: z.array(z.string()), lateSink: z.boolean(),
    })).min(1),
    edges: z.array(z.object({ from: z.number().int(), to: z.number().int(), partitioner: z.string(), kind: z.enum(['data', 'late']) })),
  }).optional(),
  params: z.record(z.string(), z.string()).default({}),
  /** The esbuild bundle of the application, base64. */
  bundle: z.string().min(1),
});

/** The routes each API instance serves (filled as they are registered). */
export const servedRoutes = new WeakMap<FastifyInstance, string[]>();

/**
 * The master's REST API: submit, list, inspect and kill applications; the node registry; bundle
 * downloads for workers and agents. Errors are JSON `{ error, code?, details? }` with a status
 * that says whose fault it was. Every route but admin-auth.ts's OPEN_ROUTES needs an admin token.
 */
export async function buildHttpApi(deps: {
  apps: AppManager; registry: Registry; store: MasterStore; log: Logger; broker?: BrokerStatsSource; install?: Omit<InstallRoutesOptions, 'log'>;
  auth: { tokens: AdminTokens; metricsAuth?: boolean }; devices?: DeviceRegistry; signingKeyPem?: string; rollouts?: RolloutManager;
  /** Bytes sent per device (downloads that name their device, `?node=`). */
  traffic?: DeviceTraffic;
}): Promise<FastifyInstance> {
  const app = Fastify({ loggerInstance: deps.log.child({ component: 'http' }) as FastifyBaseLogger, disableRequestLogging: true, bodyLimit: 64 << 20 });

  // Every route as `METHOD /path`, so a test can hold /openapi.json to what is really served.
  const routes: string[] = [];
  servedRoutes.set(app, routes);
  app.addHook('onRoute', (r) => {
    for (const m of [r.method].flat()) if (m !== 'HEAD') routes.push(`${m} ${r.url}`);
  });

  // Observability: rates and snapshots for the dashboard, events, Prometheus metrics.
  const events = new EventLog(deps.log.child({ component: 'events' }));
  const stats = new Stats(deps.apps, deps.registry, events);
  const metrics = createMetrics({ apps: deps.apps, registry: deps.registry, events, stats, broker: deps.broker, devices: deps.devices, rollouts: deps.rollouts, traffic: deps.traffic });
  // Before any route: its hook guards all of them.
  registerAdminAuth(app, { tokens: deps.auth.tokens, metricsAuth: deps.auth.metricsAuth, metrics, log: deps.log.child({ component: 'auth' }) });
  registerTokenRoutes(app, deps.auth.tokens);

  app.get('/health', async () => ({ ok: true }));
  app.get('/healthz', async () => ({ ok: true }));

  stats.start();
  app.addHook('onClose', async () => stats.stop());
  registerDashboardRoutes(app, { stats, events, metrics, log: deps.log.child({ component: 'dashboard' }) });

  // Devices: add/list/revoke (admin) and enrolment/renewal (the device's own credential).
  if (deps.devices) registerDeviceRoutes(app, deps.devices);

  registerInstallRoutes(app, { artefacts: deps.install?.artefacts ?? new AgentArtefacts({}), ...(deps.install?.publicUrl ? { publicUrl: deps.install.publicUrl } : {}), ...(deps.traffic ? { traffic: deps.traffic } : {}), log: deps.log.child({ component: 'install' }) });
  if (deps.rollouts) registerRolloutRoutes(app, deps.rollouts, deps.registry, deps.apps);

  app.get('/apps', async () => deps.apps.list().map((a) => summary(a, deps.apps)));

  app.get<{ Params: { id: string } }>('/apps/:id', async (req, reply) => {
    const a = deps.apps.get(req.params.id);
    if (!a) return reply.code(404).send({ error: `no application named ${req.params.id}` });
    const reports = deps.apps.taskReports(a.id);
    const clock = deps.apps.clock(a.id)!;
    return {
      ...a,
      minClock: clockJson(clock.minClock),
      tasks: a.tasks.map((t) => {
        const r = reports.get(`${t.processor}.${t.index}`);
        return {
          ...t, kind: deps.registry.get(t.node)?.kind ?? 'unknown',
          metrics: r ? {
            in: r.in, out: r.out, late: r.late, rejected: r.rejected, queued: r.queued, maxQueued: r.maxQueued, inputClock: clockJson(r.inputClock),
            latencyMs: r.latencyMs ?? null, processingMs: r.processingMs ?? null, topKeys: r.topKeys ?? [],
          } : null,
        };
      }),
    };
  });

  app.get<{ Params: { id: string } }>('/apps/:id/clock', async (req, reply) => {
    const clock = deps.apps.clock(req.params.id);
    if (!clock) return reply.code(404).send({ error: `no application named ${req.params.id}` });
    return { app: req.params.id, minClock: clockJson(clock.minClock), lagMs: Number.isFinite(clock.minClock) ? Date.now() - clock.minClock : null, at: clock.at, history: clock.history.map(([at, c]) => [at, clockJson(c)]) };
  });

  app.post('/apps', async (req, reply) => {
    const parsed = submissionSchema.safeParse(req.body);
    if (!parsed.success) {
      return reply.code(400).send({ error: 'bad submission', details: parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`) });
    }
    const { plan, params, bundle } = parsed.data;
    try {
      const view = await deps.apps.submit({ plan, params, bundle: Buffer.from(bundle, 'base64') });
      return reply.code(201).send(summary(view));
    } catch (err) {
      if (isTributaryError(err)) return reply.code(409).send({ error: err.message, code: err.code });
      throw err;
    }
  });

  app.delete<{ Params: { id: string } }>('/apps/:id', async (req, reply) => {
    const a = await deps.apps.kill(req.params.id);
    if (!a) return reply.code(404).send({ error: `no application named ${req.params.id}` });
    return summary(a);
  });

  /** Kill (if running) and submit again with the same plan, params and bundle: a new epoch. */
  app.post<{ Params: { id: string } }>('/apps/:id/restart', async (req, reply) => {
    const a = deps.apps.get(req.params.id);
    if (!a) return reply.code(404).send({ error: `no application named ${req.params.id}` });
    const bundle = await deps.store.getBundle(a.bundleSha256);
    if (!bundle) return reply.code(409).send({ error: `the bundle of ${a.id} is no longer stored; submit it again`, code: 'APP_BUNDLE_MISSING' });
    await deps.apps.kill(a.id);
    try {
      const view = await deps.apps.submit({ plan: a.plan, params: a.params, bundle });
      return reply.code(200).send(summary(view, deps.apps));
    } catch (err) {
      if (isTributaryError(err)) return reply.code(409).send({ error: err.message, code: err.code });
      throw err;
    }
  });

  /** The logical DAG (processors, edges) and the physical plan (which task runs on which node). */
  app.get<{ Params: { id: string } }>('/apps/:id/plan', async (req, reply) => {
    const a = deps.apps.get(req.params.id);
    if (!a) return reply.code(404).send({ error: `no application named ${req.params.id}` });
    return {
      app: a.id, epoch: a.epoch, version: a.version, logical: a.plan, pending: a.pending,
      physical: a.tasks.map((t) => ({ ...t, kind: deps.registry.get(t.node)?.kind ?? 'unknown', online: deps.registry.get(t.node)?.online ?? false })),
    };
  });

  /** Per-processor and per-task figures: totals, rates, backlog, input clocks, skew. */
  app.get<{ Params: { id: string } }>('/apps/:id/metrics', async (req, reply) => {
    const s = stats.snapshot().apps.find((x) => x.id === req.params.id);
    if (!s) return reply.code(404).send({ error: `no application named ${req.params.id}` });
    return s;
  });

  app.get<{ Params: { id: string; pid: string } }>('/apps/:id/processors/:pid', async (req, reply) => {
    const s = stats.snapshot().apps.find((x) => x.id === req.params.id);
    if (!s) return reply.code(404).send({ error: `no application named ${req.params.id}` });
    const p = s.processors.find((x) => String(x.id) === req.params.pid || x.name === req.params.pid);
    if (!p) return reply.code(404).send({ error: `application ${s.id} has no processor ${req.params.pid}` });
    return { app: s.id, ...p };
  });

  app.get('/nodes', async () => deps.registry.list());

  app.get<{ Params: { id: string } }>('/nodes/:id', async (req, reply) => {
    const n = stats.snapshot().nodes.find((x) => x.id === req.params.id);
    if (!n) return reply.code(404).send({ error: `no node named ${req.params.id}` });
    return n;
  });

  /**
   * The master's bundle-signing public key (PEM): what nodes verify bundle signatures with. A node
   * with neither `masterKey` nor an enrolment fetches it once and trusts it from then on.
   */
  app.get('/signing-key', async (_req, reply) => {
    if (!deps.signingKeyPem) return reply.code(404).send({ error: 'this master signs no bundles' });
    return reply.type('application/x-pem-file').send(deps.signingKeyPem);
  });

  app.get<{ Params: { sha: string }; Querystring: { node?: string } }>('/bundles/:sha', async (req, reply) => {
    const bytes = /^[0-9a-f]{64}$/.test(req.params.sha) ? await deps.store.getBundle(req.params.sha) : undefined;
    if (!bytes) return reply.code(404).send({ error: `no bundle ${req.params.sha}` });
    deps.traffic?.add(req.query.node, bytes.byteLength);
    return reply.type('text/javascript').send(Buffer.from(bytes));
  });

  return app;
}

export { clockJson };

function summary(a: ReturnType<AppManager['list']>[number], apps?: AppManager) {
  return {
    id: a.id, state: a.state, minClock: clockJson(apps?.clock(a.id)?.minClock), epoch: a.epoch, version: a.version, submittedAt: a.submittedAt,
    tasks: a.tasks, pending: a.pending, nodes: a.nodes, processors: a.plan.processors.map((p) => ({ id: p.id, name: p.name, placement: p.placement })),
    ...(a.error ? { error: a.error } : {}),
  };
}
