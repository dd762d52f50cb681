import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Counter, type Registry as PromRegistry } from 'prom-client';
import { ErrorCodes, type Logger } from '@tributary/shared';
import type { AdminTokens } from './admin-tokens.js';
import { loginPage } from './login-page.js';
import { SessionStore, SESSION_COOKIE } from './session-store.js';

/**
 * Routes anyone may call, as `METHOD /route`. Everything else needs an admin token.
 *  - health checks (load balancers, `tributary` launchers) carry no credential;
 *  - enrolment and renewal carry their own (a one-time token, a signature by the current key);
 *  - the installer script and the agent binaries with their hash and signature (install-routes.ts)
 *    are public by design: devices fetch them before they hold any credential;
 *  - bundles are fetched by workers and agents, which hold no admin token: a bundle is addressed
 *    by its SHA-256, which only the desired state names (ACL-protected MQTT), and nodes verify it;
 *  - the login form and its POST are how a browser gets a session.
 */
export const OPEN_ROUTES: ReadonlySet<string> = new Set([
  'GET /health', 'GET /healthz', 'POST /enrol', 'POST /enrol/renew', 'GET /install.sh', 'GET /agent/:version/:file', 'GET /bundles/:sha', 'GET /signing-key',
  'POST /login', 'POST /logout',
]);

export interface AdminAuthOptions {
  tokens: AdminTokens;
  /** Prometheus registry of the master: the refusal counter goes there. */
  metrics: PromRegistry;
  /** `/metrics` needs a token too (config `metricsAuth`); open by default, for scrapers. */
  metricsAuth?: boolean;
  log: Logger;
}

/**
 * Admin access to the master's HTTP API and dashboard. Registered by buildHttpApi before any
 * route: an `onRequest` hook lets a request through when its route is open, or it carries
 * `Authorization: Bearer <admin token>`, or the session cookie that `POST /login` sets. Anything
 * else gets 401 (JSON, `WWW-Authenticate: Bearer`), a warn log line and a count; a browser asking
 * for the dashboard page gets the login form instead.
 */
export function registerAdminAuth(app: FastifyInstance, opts: AdminAuthOptions): SessionStore {
  const { tokens, log } = opts;
  const sessions = new SessionStore((tokenId) => tokens.has(tokenId));
  const refused = new Counter({
    name: 'tributary_http_unauthorized_total', help: 'HTTP requests refused for want of a valid admin token or session (reason: missing, invalid).',
    labelNames: ['reason'] as const, registers: [opts.metrics],
  });
  const open = new Set(OPEN_ROUTES);
  if (!opts.metricsAuth) open.add('GET /metrics');

  const refuse = (req: FastifyRequest, reply: FastifyReply, reason: 'missing' | 'invalid', route: string) => {
    refused.inc({ reason });
    // Never the credential itself: only where it came from and what it wanted.
    log.warn({ ip: req.ip, route, reason }, 'admin request refused');
    const code = reason === 'missing' ? ErrorCodes.AUTH_REQUIRED : ErrorCodes.AUTH_INVALID;
    const error = reason === 'missing' ? 'an admin token is required (Authorization: Bearer <token>, or log in at /)' : 'the admin token or session is not valid (unknown, revoked or expired)';
    return reply.code(401).header('www-authenticate', 'Bearer realm="tributary"').send({ error, code });
  };

  app.addHook('onRequest', async (req, reply) => {
    const method = req.method === 'HEAD' ? 'GET' : req.method;
    const path = req.routeOptions.url ?? req.url.split('?')[0];
    const route = `${method} ${path}`;
    if (open.has(route)) return;
    const bearer = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '')?.[1];
    if (bearer !== undefined) {
      if (tokens.verify(bearer)) return;
      return refuse(req, reply, 'invalid', route);
    }
    const session = cookie(req.headers.cookie, SESSION_COOKIE);
    if (session !== undefined) {
      if (sessions.get(session)) return;
      if (route === 'GET /') return reply.code(200).type('text/html; charset=utf-8').header('set-cookie', sessions.clearCookie()).send(loginPage('Your session has ended: log in again.'));
      return refuse(req, reply, 'invalid', route);
    }
    // The dashboard page itself: show a login form rather than a JSON error.
    if (route === 'GET /') return reply.code(200).type('text/html; charset=utf-8').send(loginPage());
    return refuse(req, reply, req.headers.authorization ? 'invalid' : 'missing', route);
  });

  // The login form posts application/x-www-form-urlencoded, which fastify does not parse itself.
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(String(body))));
  });

  app.post<{ Body: { token?: unknown; next?: unknown } }>('/login', async (req, reply) => {
    const token = typeof req.body?.token === 'string' ? req.body.token.trim() : '';
    const who = token ? tokens.verify(token) : null;
    if (!who) {
      refused.inc({ reason: token ? 'invalid' : 'missing' });
      log.warn({ ip: req.ip, route: 'POST /login', reason: token ? 'invalid' : 'missing' }, 'admin request refused');
      return reply.code(401).header('www-authenticate', 'Bearer realm="tributary"').type('text/html; charset=utf-8').send(loginPage('That token is not valid.'));
    }
    const id = sessions.create(who.id);
    log.info({ ip: req.ip, token: who.id }, 'dashboard login');
    // Back to the dashboard page the user asked for (its hash route), nowhere else.
    const next = typeof req.body?.next === 'string' && /^#\/[\w./?=&%-]*$/.test(req.body.next) ? req.body.next : '';
    return reply.code(303).header('set-cookie', sessions.cookie(id, req.protocol === 'https')).header('location', `/${next}`).send();
  });

  app.post('/logout', async (req, reply) => {
    const id = cookie(req.headers.cookie, SESSION_COOKIE);
    if (id !== undefined) sessions.delete(id);
    return reply.code(303).header('set-cookie', sessions.clearCookie()).header('location', '/').send();
  });

  return sessions;
}

/** One cookie's value from a Cookie header; undefined when absent. */
function cookie(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}
