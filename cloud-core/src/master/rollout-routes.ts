import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { isTributaryError } from '@tributary/shared';
import type { Registry } from './registry.js';
import type { RolloutManager } from './rollout-manager.js';
import { describeTarget, tally, type RolloutRecord } from './rollout-types.js';
import type { AppManager } from './app-manager.js';

const policy = {
  selector: z.record(z.string(), z.string()).default({}),
  canary: z.number().int().min(0).default(1),
  waves: z.object({ base: z.number().min(1), factor: z.number().min(1) }).default({ base: 2, factor: 2 }),
  maxFailuresPercent: z.number().min(0).max(100).default(0),
  stepTimeoutMs: z.number().int().min(1000).default(300_000),
};
const createSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('agent'), version: z.string().min(1).max(64), ...policy }),
  /** The new bundle of a running application, base64 (the CLI bundles it like `tributary submit`). */
  z.object({ kind: z.literal('app'), app: z.string().min(1).max(128), bundle: z.string().min(1), ...policy }),
  z.object({ kind: z.literal('config'), config: z.record(z.string(), z.unknown()), ...policy }),
]);

/**
 * The REST API of fleet rollouts (behind the admin token like every route but the device ones):
 * `POST /rollouts` starts one, `GET /rollouts` lists them (newest first), `GET /rollouts/:id` is
 * one with its waves, per-device steps (with the bytes sent to each), counts by state and the
 * versions its devices run now (agent versions; configuration or bundle digests, 12 digits).
 * Used by `tributary fleet rollout|status` (cli/src/commands/rollout.ts) and the dashboard.
 */
export function registerRolloutRoutes(app: FastifyInstance, rollouts: RolloutManager, registry: Registry, apps?: Pick<AppManager, 'bundleFor'>): void {
  /** What a device runs of the rollout's target: its agent version, its configuration's or its bundle's digest (12 digits). */
  const running = (r: RolloutRecord, id: string): string => {
    const n = registry.get(id);
    if (r.kind === 'agent') return n?.agent?.version ?? n?.version ?? 'unknown';
    const v = r.kind === 'config' ? n?.agent?.config?.version : apps?.bundleFor(r.app!, id);
    return v ? v.slice(0, 12) : 'unknown';
  };
  const view = (r: RolloutRecord) => {
    const versions: Record<string, number> = {};
    let bytes = 0;
    for (const [id, s] of Object.entries(r.steps)) {
      const v = running(r, id);
      versions[v] = (versions[v] ?? 0) + 1;
      bytes += s.bytes ?? 0;
    }
    const t = tally(r);
    // The bundle's plan stays on the master: the digest and size say which bundle it is.
    const { bundle, ...rest } = r;
    return { ...rest, ...(bundle ? { bundle: { sha256: bundle.sha256, bytes: bundle.bytes } } : {}), target: describeTarget(r), counts: t.byState, started: t.started, failed: t.failed, versions, bytes };
  };

  app.post('/rollouts', async (req, reply) => {
    const parsed = createSchema.safeParse(req.body);
    if (!parsed.success) return reply.code(400).send({ error: 'bad rollout', code: 'TRIB_ERR_ROLLOUT_INVALID', details: parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`) });
    try {
      const d = parsed.data;
      const req = d.kind === 'app' ? { ...d, bundle: Buffer.from(d.bundle, 'base64') } : d;
      return reply.code(201).send(view(await rollouts.create(req)));
    } catch (err) {
      if (isTributaryError(err)) return reply.code(400).send({ error: err.message, code: err.code });
      throw err;
    }
  });

  app.get('/rollouts', async () => rollouts.list().map(view));

  app.get<{ Params: { id: string } }>('/rollouts/:id', async (req, reply) => {
    const r = rollouts.get(req.params.id);
    if (!r) return reply.code(404).send({ error: `no rollout ${req.params.id}` });
    return view(r);
  });
}
