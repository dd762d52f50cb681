/**
 * The OpenAPI 3 description of the master's HTTP API, served at /openapi.json. Hand-written and
 * small on purpose: the test `dashboard-api` checks that every route fastify serves is listed
 * here, so the two cannot drift apart silently.
 */
const error = { $ref: '#/components/schemas/Error' };
const json = (schema: object, description = 'OK') => ({ description, content: { 'application/json': { schema } } });
const notFound = { 404: json(error, 'unknown application, processor or node') };
const idParam = { name: 'id', in: 'path', required: true, schema: { type: 'string' } };
const obj = { type: 'object' };

export function openApiDocument(): Record<string, unknown> {
  return {
    openapi: '3.0.3',
    info: { title: 'Tributary master API', version: '0.1.0', description: 'Applications, their DAG and physical plan, per-task metrics, the min-clock, the fleet, events; the dashboard and Prometheus metrics.' },
    paths: {
      '/health': { get: { summary: 'Liveness', responses: { 200: json(obj) } } },
      '/apps': {
        get: { summary: 'List applications', responses: { 200: json({ type: 'array', items: obj }) } },
        post: {
          summary: 'Submit an application (plan from `tributary plan --json`, params, base64 esbuild bundle)',
          requestBody: { required: true, content: { 'application/json': { schema: { $ref: '#/components/schemas/Submission' } } } },
          responses: { 201: json(obj, 'submitted and placed'), 400: json(error, 'bad submission: `details` says which field and why'), 409: json(error, 'already running') },
        },
      },
      '/apps/{id}': {
        parameters: [idParam],
        get: { summary: 'One application with its tasks and their latest reports', responses: { 200: json(obj), ...notFound } },
        delete: { summary: 'Kill an application', responses: { 200: json(obj), ...notFound } },
      },
      '/apps/{id}/restart': { parameters: [idParam], post: { summary: 'Kill and resubmit with the same plan, params and bundle (new epoch)', responses: { 200: json(obj), ...notFound, 409: json(error) } } },
      '/apps/{id}/plan': { parameters: [idParam], get: { summary: 'Logical DAG and physical plan (task -> node, edge or cloud)', responses: { 200: json(obj), ...notFound } } },
      '/apps/{id}/metrics': { parameters: [idParam], get: { summary: 'Per-processor and per-task totals, rates (records/s), backlog, input clocks, skew', responses: { 200: json({ $ref: '#/components/schemas/AppStats' }), ...notFound } } },
      '/apps/{id}/processors/{pid}': {
        parameters: [idParam, { name: 'pid', in: 'path', required: true, schema: { type: 'string' }, description: 'processor id or name' }],
        get: { summary: 'One processor: its tasks, their rates and the key skew', responses: { 200: json(obj), ...notFound } },
      },
      '/apps/{id}/clock': { parameters: [idParam], get: { summary: 'Application min-clock, lag and history ([at, clock] pairs)', responses: { 200: json(obj), ...notFound } } },
      '/nodes': { get: { summary: 'Workers and agents: labels, version, online, last seen, per-app reports', responses: { 200: json({ type: 'array', items: obj }) } } },
      '/nodes/{id}': { parameters: [idParam], get: { summary: 'One node with its task count and backlog', responses: { 200: json(obj), ...notFound } } },
      '/bundles/{sha}': { parameters: [{ name: 'sha', in: 'path', required: true, schema: { type: 'string' } }], get: { summary: 'An application bundle (for workers and agents)', responses: { 200: { description: 'JavaScript' }, 404: json(error) } } },
      '/events': {
        get: {
          summary: 'Recent events: nodes online/offline/recovered, applications submitted/failed/finished/killed, epoch changes',
          parameters: [{ name: 'since', in: 'query', schema: { type: 'integer' } }, { name: 'limit', in: 'query', schema: { type: 'integer' } }],
          responses: { 200: json({ type: 'array', items: { $ref: '#/components/schemas/Event' } }) },
        },
      },
      '/snapshot': { get: { summary: 'Everything the dashboard shows, once', responses: { 200: json({ $ref: '#/components/schemas/Snapshot' }) } } },
      '/stream': { get: { summary: 'Server-Sent Events: `snapshot` events, one on connect, then each second and on every change', responses: { 200: { description: 'text/event-stream' } } } },
      '/metrics': { get: { summary: 'Prometheus text exposition format', responses: { 200: { description: 'text/plain; version=0.0.4' } } } },
      '/openapi.json': { get: { summary: 'This document', responses: { 200: json(obj) } } },
      '/': { get: { summary: 'The dashboard (HTML)', responses: { 200: { description: 'text/html' } } } },
      '/app.js': { get: { summary: 'Dashboard script (bundled at first request)', responses: { 200: { description: 'text/javascript' } } } },
      '/app.css': { get: { summary: 'Dashboard styles', responses: { 200: { description: 'text/css' } } } },
    },
    components: {
      schemas: {
        Error: { type: 'object', required: ['error'], properties: { error: { type: 'string' }, code: { type: 'string' }, details: { type: 'array', items: { type: 'string' } } } },
        Submission: { type: 'object', required: ['plan', 'bundle'], properties: { plan: obj, params: { type: 'object', additionalProperties: { type: 'string' } }, bundle: { type: 'string', format: 'byte' } } },
        Event: { type: 'object', properties: { seq: { type: 'integer' }, at: { type: 'integer' }, kind: { type: 'string' }, subject: { type: 'string' }, message: { type: 'string' } } },
        AppStats: { type: 'object', properties: { id: { type: 'string' }, state: { type: 'string' }, throughput: { type: 'number' }, lagMs: { type: 'number', nullable: true }, processors: { type: 'array', items: obj }, edges: { type: 'array', items: obj } } },
        Snapshot: { type: 'object', properties: { at: { type: 'integer' }, apps: { type: 'array', items: { $ref: '#/components/schemas/AppStats' } }, nodes: { type: 'array', items: obj }, fleet: obj, events: { type: 'array', items: { $ref: '#/components/schemas/Event' } } } },
      },
    },
  };
}
