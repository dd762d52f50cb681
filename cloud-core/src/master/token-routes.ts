import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { AdminTokens } from './admin-tokens.js';

const createSchema = z.object({ name: z.string().trim().min(1).max(100).optional() }).default({});

/**
 * Admin tokens over REST (`tributary tokens list|create|revoke`): list without secrets, create
 * (the secret is in the answer, once), revoke. Behind admin-auth.ts like every other route.
 */
export function registerTokenRoutes(app: FastifyInstance, tokens: AdminTokens): void {
  app.get('/tokens', async () => tokens.list());

  app.post('/tokens', async (req, reply) => {
    const parsed = createSchema.safeParse(req.body ?? {});
    if (!parsed.success) return reply.code(400).send({ error: 'bad token request', details: parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`) });
    return reply.code(201).send(await tokens.create(parsed.data.name ?? 'unnamed'));
  });

  app.delete<{ Params: { id: string } }>('/tokens/:id', async (req, reply) => {
    const done = await tokens.revoke(req.params.id);
    if (done === false) return reply.code(404).send({ error: `no admin token ${req.params.id}` });
    if (done === 'last') return reply.code(409).send({ error: 'this is the last admin token: create another one first, or nobody could log in' });
    return { id: req.params.id, revoked: true };
  });
}
