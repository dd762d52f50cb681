import type { FastifyInstance, FastifyReply } from 'fastify';
import { z } from 'zod';
import { ErrorCodes, MASTER_ID, isTributaryError } from '@tributary/shared';
import { EnrolmentRefused, type DeviceRegistry } from './device-registry.js';

/**
 * Device ids: what node configs accept (letters, digits, `_ . -`, 1-64), and never `master`. The
 * id becomes a certificate CN, an MQTT username and client id, and a topic level.
 */
const deviceId = z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'ids are 1-64 letters, digits, _ . -').refine((id) => id !== MASTER_ID, 'the id master is reserved');
const pem = z.string().min(1).max(16_384);
const topicFilter = z.string().min(1).max(1024).refine((f) => !f.startsWith('trib/') && f !== '#' && !f.startsWith('+/') && f !== '+', 'grants are application topics, outside trib/');

const addSchema = z.object({
  id: deviceId,
  role: z.enum(['agent', 'worker', 'client']).default('agent'),
  labels: z.record(z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/), z.string().max(256)).default({}),
  /** Enrolment token lifetime; default 24 h, at most 30 days. */
  ttlSeconds: z.number().int().min(1).max(30 * 86_400).optional(),
  /** Role client only: application topics it may read (subscribe) and write (publish). */
  grants: z.object({ read: z.array(topicFilter).max(100).optional(), write: z.array(topicFilter).max(100).optional() }).strict().optional(),
}).strict().refine((b) => !b.grants || b.role === 'client', { message: 'grants are for role client only', path: ['grants'] });

const enrolSchema = z.object({ id: deviceId, token: z.string().min(1).max(256), csr: pem }).strict();
const renewSchema = z.object({ id: deviceId, csr: pem, cert: pem, proof: z.string().min(1).max(1024) }).strict();

/**
 * The device registry's REST routes, registered by buildHttpApi (http-api.ts). Admin routes:
 * `POST /devices`, `GET /devices`, `DELETE /devices/:id` (behind the admin token, helper
 * "admin"). Device routes, carrying their own credential (token, or current certificate and
 * proof): `POST /enrol`, `POST /enrol/renew`. Errors: `{ error, code, reason?, details? }`.
 */
export function registerDeviceRoutes(app: FastifyInstance, devices: DeviceRegistry): void {
  app.get('/devices', async () => devices.list());

  app.post('/devices', async (req, reply) => {
    const parsed = addSchema.safeParse(req.body);
    if (!parsed.success) return badRequest(reply, parsed.error);
    return handle(reply, 201, () => devices.add(parsed.data));
  });

  app.delete<{ Params: { id: string } }>('/devices/:id', async (req, reply) => handle(reply, 200, () => devices.revoke(req.params.id)));

  app.post('/enrol', async (req, reply) => {
    const parsed = enrolSchema.safeParse(req.body);
    if (!parsed.success) return badRequest(reply, parsed.error);
    return handle(reply, 200, () => devices.enrol(parsed.data));
  });

  app.post('/enrol/renew', async (req, reply) => {
    const parsed = renewSchema.safeParse(req.body);
    if (!parsed.success) return badRequest(reply, parsed.error);
    return handle(reply, 200, () => devices.renew(parsed.data));
  });
}

function badRequest(reply: FastifyReply, error: z.ZodError) {
  return reply.code(400).send({ error: 'bad request', details: error.issues.map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`) });
}

/** Runs `op`, mapping the registry's coded errors to statuses: whose fault, and which check. */
async function handle(reply: FastifyReply, ok: number, op: () => Promise<unknown>) {
  try {
    return reply.code(ok).send(await op());
  } catch (err) {
    if (err instanceof EnrolmentRefused) return reply.code(403).send({ error: err.message, code: err.code, reason: err.reason });
    if (!isTributaryError(err)) throw err;
    const status = err.code === ErrorCodes.DEVICE_EXISTS ? 409 : err.code === ErrorCodes.DEVICE_UNKNOWN ? 404 : err.code === ErrorCodes.CERT_INVALID ? 400 : 500;
    return reply.code(status).send({ error: err.message, code: err.code });
  }
}
