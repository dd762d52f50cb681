import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { isTributaryError } from '@tributary/shared';
import type { Registry } from './registry.js';
import type { RolloutManager } from './rollout-manager.js';
import { tally, type RolloutRecord } from './rollout-types.js';

const createSchema = z.object({
  kind: z.literal('agent'),
  version: z.string().min(1).max(64),
  selector: z.record(z.string(), z.string()).default({}),
  canary: z.number().int().min(0).default(1),
  waves: z.object({ base: z.number().min(1), factor: z.number().min(1) }).default({ base: 2, factor: 2 }),
  maxFailuresPercent: z.number().min(0).max(100).default(0),
  stepTimeoutMs: z.number().int().min(1000).default(300_000),
});

/**
 * The REST API of fleet rollouts (behind the admin token like every route but the device ones):
 * `POST /rollouts` starts one, `GET /rollouts` lists them (newest first), `GET /rollouts/:id` is
 * one with its waves, per-device steps, counts by state and the versions its devices run now.
 * Used by `tributary fleet rollout|status` (cli/src/commands/rollout.ts) and the dashboard.
 */
export function registerRolloutRoutes(app: FastifyInstance, rollouts: RolloutManager, registry: Registry): void {
  const view = (r: RolloutRecord) => {
    const versions: Record<string, number> = {};
    for (const id of Object.keys(r.steps)) {
      const v = registry.get(id)?.agent?.version ?? registry.get(id)?.version ?? 'unknown';
      versions[v] = (versions[v] ?? 0) + 1;
    }
    const t = tally(r);
    return { ...r, counts: t.byState, started: t.started, failed: t.failed, versions };
  };

  app.post('/rollouts', async (req, reply) => {
    const parsed = createSchema.safeParse(req.body);
    if (!parsed.success) return reply.code(400).send({ error: 'bad rollout', code: 'TRIB_ERR_ROLLOUT_INVALID', details: parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`) });
    try {
      return reply.code(201).send(view(await rollouts.create(parsed.data)));
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
