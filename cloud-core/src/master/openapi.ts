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
const unauthorized = { 401: json(error, 'no admin token or session, or not a valid one (`WWW-Authenticate: Bearer`)') };

export function openApiDocument(): Record<string, unknown> {
  return {
    openapi: '3.0.3',
    info: { title: 'Tributary master API', version: '0.1.0', description: 'Applications, their DAG and physical plan, per-task metrics, the min-clock, the fleet, events; the dashboard and Prometheus metrics. Every operation needs an admin token (`Authorization: Bearer <token>`) or a dashboard session cookie, except those with an empty `security`, `/bundles/{sha}` (content-addressed, for nodes) and `/metrics` unless the master runs with `--metrics-auth`.' },
    security: [{ bearer: [] }, { session: [] }],
    paths: {
      '/health': { get: { summary: 'Liveness (no token needed)', security: [], responses: { 200: json(obj) } } },
      '/healthz': { get: { summary: 'Liveness, the conventional name (no token needed)', security: [], responses: { 200: json(obj) } } },
      '/tokens': {
        get: { summary: 'Admin tokens: id, name, created, last used (never the secret)', responses: { 200: json({ type: 'array', items: obj }), ...unauthorized } },
        post: {
          summary: 'Create an admin token; the answer holds its secret (`token`), shown this once',
          requestBody: { content: { 'application/json': { schema: { type: 'object', properties: { name: { type: 'string' } } } } } },
          responses: { 201: json(obj, 'created'), 400: json(error), ...unauthorized },
        },
      },
      '/tokens/{id}': { parameters: [idParam], delete: { summary: 'Revoke an admin token (its sessions end too)', responses: { 200: json(obj), 404: json(error), 409: json(error, 'the last token cannot be revoked'), ...unauthorized } } },
      '/login': {
        post: {
          summary: 'Dashboard login: form field `token`; sets an HttpOnly, SameSite=Strict session cookie and redirects to the dashboard',
          security: [],
          requestBody: { content: { 'application/x-www-form-urlencoded': { schema: { type: 'object', required: ['token'], properties: { token: { type: 'string' }, next: { type: 'string' } } } } } },
          responses: { 303: { description: 'logged in' }, 401: { description: 'the login form again, with an error' } },
        },
      },
      '/logout': { post: { summary: 'End the dashboard session', security: [], responses: { 303: { description: 'logged out' } } } },
      '/apps': {
        get: { summary: 'List applications', responses: { 200: json({ type: 'array', items: obj }) } },
        post: {
          summary: 'Submit an application (params, base64 esbuild bundle; optionally the plan from `tributary plan --json`, which must equal the plan the master derives from the bundle)',
          requestBody: { required: true, content: { 'application/json': { schema: { $ref: '#/components/schemas/Submission' } } } },
          responses: { 201: json(obj, 'submitted and placed'), 400: json(error, 'bad submission: `details` says which field and why'), 409: json(error, 'already running, or refused: `code` TRIB_ERR_PLAN_MISMATCH (the plan is not the bundle\'s, or planning it exceeded the limits), TRIB_ERR_API_VERSION, TRIB_ERR_APP_INVALID') },
        },
      },
      '/apps/{id}': {
        parameters: [idParam],
        get: { summary: 'One application with its tasks and their latest reports', responses: { 200: json(obj), ...notFound } },
        delete: { summary: 'Kill an application', responses: { 200: json(obj), ...notFound } },
      },
      '/apps/{id}/restart': { parameters: [idParam], post: { summary: 'Kill and resubmit with the same plan, params and bundle (new epoch)', responses: { 200: json(obj), ...notFound, 409: json(error) } } },
      '/apps/{id}/plan': { parameters: [idParam], get: { summary: 'Logical DAG and physical plan (task -> node, edge or cloud)', responses: { 200: json(obj), ...notFound } } },
      '/apps/{id}/metrics': { parameters: [idParam], get: { summary: 'Per-processor and per-task totals, rates (records/s), latency percentiles (event time and processing), backlog, input clocks, skew, hot keys', responses: { 200: json({ $ref: '#/components/schemas/AppStats' }), ...notFound } } },
      '/apps/{id}/processors/{pid}': {
        parameters: [idParam, { name: 'pid', in: 'path', required: true, schema: { type: 'string' }, description: 'processor id or name' }],
        get: { summary: 'One processor: its tasks with rates and latency percentiles, the task skew and the hottest keys with the task owning each', responses: { 200: json({ $ref: '#/components/schemas/ProcessorStats' }), ...notFound } },
      },
      '/apps/{id}/clock': { parameters: [idParam], get: { summary: 'Application min-clock, lag and history ([at, clock] pairs)', responses: { 200: json(obj), ...notFound } } },
      '/nodes': { get: { summary: 'Workers and agents: labels, version, online, last seen, per-app reports (with `stalls`: event-loop stalls the watchdog blamed on an inline application), replay-log backlog and disk use (`replayLog`), watchdog counts nothing could be blamed on (`eventLoop`), desired states the node refused as invalid (`controlRejected`), bundles it refused unevaluated by reason (`bundleRejected`)', responses: { 200: json({ type: 'array', items: obj }) } } },
      '/nodes/{id}': { parameters: [idParam], get: { summary: 'One node with its task count, backlog and replay logs', responses: { 200: json({ $ref: '#/components/schemas/NodeStats' }), ...notFound } } },
      '/signing-key': { get: { security: [], summary: "The master's Ed25519 bundle-signing public key (PEM); nodes without one trust it on first use", responses: { 200: { description: 'PEM' }, 404: json(error) } } },
      '/bundles/{sha}': { parameters: [{ name: 'sha', in: 'path', required: true, schema: { type: 'string' } }], get: { summary: 'An application bundle (for workers and agents; no token needed: addressed by its SHA-256)', security: [], responses: { 200: { description: 'JavaScript' }, 404: json(error) } } },
      '/install.sh': { get: { security: [], summary: 'The device installer (deploy/install.sh) with this master\'s URL and the systemd unit filled in; no admin token: `curl -fsSL <master>/install.sh | sh -s -- --token <enrolment token>`', responses: { 200: { description: 'text/x-shellscript' } } } },
      '/agent/{version}/{file}': {
        parameters: [{ name: 'version', in: 'path', required: true, schema: { type: 'string' }, description: '`latest` or a version directory under --agent-dir' }, { name: 'file', in: 'path', required: true, schema: { type: 'string', pattern: '^linux-(x64|arm64)(\\.sha256|\\.sig)?$' } }],
        get: { security: [], summary: 'An agent binary, its SHA-256 (sha256sum format) or the master\'s Ed25519 signature over that digest (raw 64 bytes; 404 without a signing key); no admin token', responses: { 200: { description: 'application/octet-stream or text/plain' }, 404: json(error, 'no such version, architecture or signing key') } },
      },
      '/devices': {
        get: { summary: 'Devices of the fleet: id, role, state (pending, expired, enrolled, revoked), labels, token expiry, certificate expiry', responses: { 200: json({ type: 'array', items: obj }) } },
        post: {
          summary: 'Register a device; answers its one-time enrolment token (shown once, kept only as a hash)',
          requestBody: { required: true, content: { 'application/json': { schema: { $ref: '#/components/schemas/DeviceAdd' } } } },
          responses: { 201: json({ type: 'object', properties: { id: { type: 'string' }, token: { type: 'string' }, expiresAt: { type: 'integer' } } }), 400: json(error), 409: json(error, 'already registered and not revoked') },
        },
      },
      '/devices/{id}': { parameters: [idParam], delete: { summary: 'Revoke a device: its live MQTT connections are closed and it is refused from then on', responses: { 200: json(obj), 404: json(error, 'unknown device') } } },
      '/enrol': {
        post: {
          summary: 'A device enrols: `{id, token, csr}` (PEM PKCS#10, CN = id) -> `{cert, ca, secret, signingKey, brokers, certNotAfter}`',
          requestBody: { required: true, content: { 'application/json': { schema: obj } } },
          responses: { 200: json({ $ref: '#/components/schemas/EnrolmentGrant' }), 400: json(error, 'malformed body or certificate request'), 403: json(error, 'token unknown, expired or reused, or device revoked (`reason`)') },
        },
      },
      '/enrol/renew': {
        post: {
          summary: 'A device renews its certificate: `{id, csr, cert, proof}`, proof = base64 ECDSA-SHA256 signature over the csr by the current key',
          requestBody: { required: true, content: { 'application/json': { schema: obj } } },
          responses: { 200: json({ $ref: '#/components/schemas/EnrolmentGrant' }), 400: json(error), 403: json(error, 'certificate not valid or no longer accepted, bad proof, device revoked (`reason`)') },
        },
      },
      '/rollouts': {
        get: { summary: 'Fleet rollouts, newest first: target, waves (node ids, canary first), per-device steps (state, reason, from, times, bytes sent), counts by state, the versions their devices run now, bytes sent', responses: { 200: json({ type: 'array', items: obj }) } },
        post: { summary: 'Start a rollout: `{kind: "agent", version}`, `{kind: "app", app, bundle (base64)}` or `{kind: "config", config: {…agent settings}}`, each with `selector?, canary?, waves?: {base, factor}, maxFailuresPercent?, stepTimeoutMs?`; it supersedes a running one of the same target', responses: { 201: json(obj), 400: json(error, 'malformed, no binary for the version, a bundle of another shape, a forbidden setting, or no device matches') } },
      },
      '/rollouts/{id}': { parameters: [idParam], get: { summary: 'One rollout with its waves and per-device steps', responses: { 200: json(obj), ...notFound } } },
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
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'An admin token (`trb_…`): printed at the master\'s first start, or `tributary tokens create`' },
        session: { type: 'apiKey', in: 'cookie', name: 'tributary_session', description: 'Set by POST /login' },
      },
      schemas: {
        Error: { type: 'object', required: ['error'], properties: { error: { type: 'string' }, code: { type: 'string' }, details: { type: 'array', items: { type: 'string' } } } },
        Submission: { type: 'object', required: ['bundle'], properties: { plan: obj, params: { type: 'object', additionalProperties: { type: 'string' } }, bundle: { type: 'string', format: 'byte' } } },
        DeviceAdd: {
          type: 'object', required: ['id'],
          properties: {
            id: { type: 'string' }, role: { type: 'string', enum: ['agent', 'worker', 'client'] }, labels: { type: 'object', additionalProperties: { type: 'string' } }, ttlSeconds: { type: 'integer' },
            grants: { type: 'object', properties: { read: { type: 'array', items: { type: 'string' } }, write: { type: 'array', items: { type: 'string' } } }, description: 'role client: application topic filters' },
          },
        },
        EnrolmentGrant: {
          type: 'object',
          properties: {
            id: { type: 'string' }, role: { type: 'string' }, cert: { type: 'string' }, ca: { type: 'string' }, signingKey: { type: 'string', description: 'Ed25519 public key, PEM' },
            secret: { type: 'string', description: 'MQTT password (username = id); enrolment only' }, certNotAfter: { type: 'string', format: 'date-time' },
            brokers: { type: 'object', properties: { tls: { type: 'string' }, plain: { type: 'string' } } },
          },
        },
        Event: { type: 'object', properties: { seq: { type: 'integer' }, at: { type: 'integer' }, kind: { type: 'string' }, subject: { type: 'string' }, message: { type: 'string' } } },
        AppStats: { type: 'object', properties: { id: { type: 'string' }, state: { type: 'string' }, throughput: { type: 'number' }, lagMs: { type: 'number', nullable: true }, processors: { type: 'array', items: { $ref: '#/components/schemas/ProcessorStats' } }, edges: { type: 'array', items: obj } } },
        Latency: {
          type: 'object', nullable: true, description: 'Percentiles (ms) of per-batch samples over the node\'s last report interval (~1 s); null: no batch then',
          properties: { p50: { type: 'number' }, p99: { type: 'number' }, max: { type: 'number' }, samples: { type: 'integer' } },
        },
        TaskStats: {
          type: 'object',
          properties: {
            index: { type: 'integer' }, node: { type: 'string' }, in: { type: 'integer' }, out: { type: 'integer' }, queued: { type: 'integer' }, inRate: { type: 'number' }, outRate: { type: 'number' },
            latencyMs: { allOf: [{ $ref: '#/components/schemas/Latency' }], description: 'event-time latency: wall clock when a batch is processed minus its last record\'s event time' },
            processingMs: { allOf: [{ $ref: '#/components/schemas/Latency' }], description: 'a batch\'s wait in the inbox plus its processing and I/O' },
            topKeys: { type: 'array', items: { type: 'array', items: {}, minItems: 2, maxItems: 2 }, description: '[key, approximate records] since the task started, hottest first' },
            clockLaggards: { type: 'array', items: { $ref: '#/components/schemas/ClockLaggard' }, description: 'a source with a clock per device: the devices holding its clock back the most, lowest clock first' },
            problem: { type: 'string', nullable: true },
          },
        },
        ClockLaggard: {
          type: 'object',
          properties: {
            device: { type: 'string' },
            newestTs: { type: 'number', description: 'the device\'s newest on-time event time' },
            clock: { type: 'number', description: 'its own clock: newestTs minus its allowed delay' },
          },
        },
        ProcessorStats: {
          type: 'object',
          properties: {
            clockLaggards: { type: 'array', items: { allOf: [{ $ref: '#/components/schemas/ClockLaggard' }, { type: 'object', properties: { task: { type: 'integer' } } }] }, description: 'over all its tasks, at most 10' },
            id: { type: 'integer' }, name: { type: 'string' }, runsOn: { type: 'string', enum: ['edge', 'cloud', 'mixed', 'unplaced'] }, skew: { type: 'number', description: 'max/mean records in per task' },
            latencyMs: { allOf: [{ $ref: '#/components/schemas/Latency' }], description: 'the slowest task\'s' }, processingMs: { $ref: '#/components/schemas/Latency' },
            hotKeys: { type: 'array', items: { type: 'object', properties: { key: { type: 'string' }, count: { type: 'integer' }, task: { type: 'integer' }, node: { type: 'string' }, share: { type: 'number' } } } },
            tasks: { type: 'array', items: { $ref: '#/components/schemas/TaskStats' } },
          },
        },
        ReplayLog: {
          type: 'object', nullable: true, description: 'The node\'s replay logs (from its heartbeat); null: not reported',
          properties: { backlogRecords: { type: 'integer' }, diskBytes: { type: 'integer' }, quotaBytes: { type: 'integer' }, droppedRecords: { type: 'integer' }, blocked: { type: 'boolean' } },
        },
        NodeStats: {
          type: 'object',
          properties: {
            id: { type: 'string' }, kind: { type: 'string', enum: ['worker', 'agent'] }, labels: { type: 'object', additionalProperties: { type: 'string' } }, version: { type: 'string' }, online: { type: 'boolean' },
            lastSeen: { type: 'integer' }, tasks: { type: 'integer' }, backlog: { type: 'integer' }, replayLog: { $ref: '#/components/schemas/ReplayLog' },
          },
        },
        Snapshot: { type: 'object', properties: { at: { type: 'integer' }, apps: { type: 'array', items: { $ref: '#/components/schemas/AppStats' } }, nodes: { type: 'array', items: { $ref: '#/components/schemas/NodeStats' } }, fleet: obj, events: { type: 'array', items: { $ref: '#/components/schemas/Event' } } } },
      },
    },
  };
}
