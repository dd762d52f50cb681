/**
 * Tributary's MQTT topic layout: the ONLY place that builds and parses topic strings.
 *
 * Every topic starts with `trib/<publisher>/`, so "who may publish here" is a prefix rule
 * (`trib/%c/#`, `%c` = the node's authenticated identity), and every topic a node reads names
 * that node at a fixed level, so "who may read here" is a pattern rule too. The embedded broker
 * evaluates {@link ACL_RULES} on the identity it authenticated (always, with `auth`; on the client
 * id with the dev broker's `enforceTopicAcl`); Mosquitto enforces the same rules with `pattern`
 * ACL lines on the username (`%u`, `use_identity_as_username true`), see {@link mosquittoAclFor}.
 *
 * | topic                                        | publisher         | subscriber (filter)                   | retain | QoS | payload                          |
 * | -------------------------------------------- | ----------------- | ------------------------------------- | ------ | --- | -------------------------------- |
 * | `trib/<node>/status`                         | node; broker (LWT)| master (`trib/+/status`)              | yes    | 1   | `online` on connect (birth), `offline` as last will |
 * | `trib/<node>/hello`                          | node              | master (`trib/+/hello`)               | yes*   | 1   | registration: labels, capacity, version |
 * | `trib/<node>/hb`                             | node              | master (`trib/+/hb`)                  | no     | 0   | heartbeat, load                  |
 * | `trib/<node>/clock`                          | node              | master (`trib/+/clock`)               | no     | 1   | min-clock / clock-offset report  |
 * | `trib/<node>/events`                         | node              | master (`trib/+/events`)              | no     | 1   | node events                      |
 * | `trib/<node>/ckpt`                           | node              | master (`trib/+/ckpt`)                | no     | 1   | a task's checkpoint snapshot     |
 * | `trib/<from>/data/<to>/<app>/<task>`         | node `from`       | node `to` (`trib/+/data/<to>/#`)      | no     | 1   | CBOR data frame for task `<task>` hosted on `to` |
 * | `trib/<from>/credit/<to>/<app>/<task>`       | node `from`       | node `to` (`trib/+/credit/<to>/#`)    | no     | 1   | flow-control credits for the sending task `<task>` on `to` |
 * | `trib/master/ctl/<node>`                     | master            | node (`trib/master/ctl/<node>`)       | no     | 1   | control from master to one node  |
 * | `trib/master/clock/<app>`                    | master            | every node (`trib/master/clock/+`)    | yes    | 1   | application min-clock            |
 * | `trib/master/broadcast`                      | master            | every node                            | no     | 1   | to all nodes                     |
 *
 * (*) retaining `hello` lets a restarted master rebuild its registry from the broker.
 * Point-to-point kinds all read `trib/<from>/<kind>/<to>/…`: the first id is always the
 * publisher (so a receiver can trust it when the broker enforces the ACL), the second the
 * addressee. A credit flows opposite to its data: the data receiver publishes it under its own
 * prefix, addressed to the node hosting the upstream task.
 *
 * The master's client id is {@link MASTER_ID}; it publishes under `trib/master/` like any node.
 * Reading every node's topics is a privilege no `%c` pattern can grant, so it is bound to the
 * *role* master (issue 13): the embedded broker gives it to a principal of role `master` only
 * and refuses id `master` to any other role; Mosquitto binds it to username `master` (a `user
 * master` section; only the master's certificate or password entry carries that name). On the
 * anonymous dev broker username `master` stands for the role. Node registration and enrolment
 * must refuse a node id equal to `master`.
 */

export const TOPIC_ROOT = 'trib';
/** Identity (client id, certificate CN, broker username) of the master. */
export const MASTER_ID = 'master';
export const MAX_ID_LENGTH = 128;

/** What the node-level topics carry; `heartbeat` is spelled `hb` on the wire (sent often). */
export type NodeTopicKind = 'status' | 'hello' | 'heartbeat' | 'clock' | 'events' | 'checkpoint';
const NODE_KIND_WIRE: Record<NodeTopicKind, string> = {
  status: 'status',
  hello: 'hello',
  heartbeat: 'hb',
  clock: 'clock',
  events: 'events',
  checkpoint: 'ckpt',
};
const NODE_KIND_BY_WIRE = new Map(Object.entries(NODE_KIND_WIRE).map(([k, w]) => [w, k as NodeTopicKind]));

export type ParsedTopic =
  | { kind: NodeTopicKind; nodeId: string }
  | { kind: 'data' | 'credit'; from: string; to: string; appId: string; taskAddr: string }
  | { kind: 'control'; nodeId: string }
  | { kind: 'appClock'; appId: string }
  | { kind: 'broadcast' };

/** Why an id is not usable as a topic level, or null when it is. */
function idProblem(id: unknown): string | null {
  if (typeof id !== 'string') return 'must be a string';
  if (id.length === 0) return 'must not be empty';
  if (id.length > MAX_ID_LENGTH) return `must be at most ${MAX_ID_LENGTH} characters`;
  // `/` would add a level, `+`/`#` are MQTT wildcards, NUL is forbidden in MQTT strings; Mosquitto
  // also refuses `%c` ACL patterns for client ids containing `/`, `+` or `#`.
  if (/[/+#\u0000]/.test(id)) return 'must not contain "/", "+", "#" or NUL';
  return null;
}

/** Whether `id` can be a node, application or task id in a topic. */
export function isValidId(id: unknown): id is string {
  return idProblem(id) === null;
}

/** Throws a TypeError (programmer misuse) if `id` cannot be a topic level. */
export function assertValidId(id: unknown, what = 'id'): asserts id is string {
  const problem = idProblem(id);
  if (problem) throw new TypeError(`Invalid ${what} ${JSON.stringify(id)}: ${problem}`);
}

function join(...levels: string[]): string {
  return [TOPIC_ROOT, ...levels].join('/');
}

function nodeTopic(kind: NodeTopicKind, nodeId: string): string {
  assertValidId(nodeId, 'node id');
  return join(nodeId, NODE_KIND_WIRE[kind]);
}

function p2p(kind: 'data' | 'credit', from: string, to: string, appId: string, taskAddr: string): string {
  assertValidId(from, 'node id');
  assertValidId(to, 'node id');
  assertValidId(appId, 'application id');
  assertValidId(taskAddr, 'task address');
  return join(from, kind, to, appId, taskAddr);
}

/** Topic and filter builders. Filters are for `Transport.subscribe`; topics for `publish`. */
export const topics = {
  status: (nodeId: string) => nodeTopic('status', nodeId),
  hello: (nodeId: string) => nodeTopic('hello', nodeId),
  heartbeat: (nodeId: string) => nodeTopic('heartbeat', nodeId),
  clock: (nodeId: string) => nodeTopic('clock', nodeId),
  events: (nodeId: string) => nodeTopic('events', nodeId),
  checkpoint: (nodeId: string) => nodeTopic('checkpoint', nodeId),
  /** Data frames from a task on `from` to task `taskAddr` hosted on `to`. */
  data: (from: string, to: string, appId: string, taskAddr: string) => p2p('data', from, to, appId, taskAddr),
  /** Credits from `from` (the data receiver) back to the sending task `taskAddr` on `to`. */
  credit: (from: string, to: string, appId: string, taskAddr: string) => p2p('credit', from, to, appId, taskAddr),
  control: (nodeId: string) => {
    assertValidId(nodeId, 'node id');
    return join(MASTER_ID, 'ctl', nodeId);
  },
  appClock: (appId: string) => {
    assertValidId(appId, 'application id');
    return join(MASTER_ID, 'clock', appId);
  },
  broadcast: () => join(MASTER_ID, 'broadcast'),

  /** Everything addressed to `nodeId` as data receiver: `trib/+/data/<nodeId>/#`. */
  dataFilterFor: (nodeId: string) => {
    assertValidId(nodeId, 'node id');
    return join('+', 'data', nodeId, '#');
  },
  creditFilterFor: (nodeId: string) => {
    assertValidId(nodeId, 'node id');
    return join('+', 'credit', nodeId, '#');
  },
  appClockFilter: () => join(MASTER_ID, 'clock', '+'),
  /** Master side: one node-level kind of every node, e.g. `trib/+/status`. */
  nodeKindFilter: (kind: NodeTopicKind) => join('+', NODE_KIND_WIRE[kind]),
  /** The filters a node (agent or worker) subscribes to; all allowed by the ACL. */
  nodeSubscriptions: (nodeId: string): string[] => [
    topics.dataFilterFor(nodeId),
    topics.creditFilterFor(nodeId),
    topics.control(nodeId),
    topics.appClockFilter(),
    topics.broadcast(),
  ],
  /** The filters the master subscribes to. */
  masterSubscriptions: (): string[] =>
    (Object.keys(NODE_KIND_WIRE) as NodeTopicKind[]).map((kind) => topics.nodeKindFilter(kind)),
} as const;

/** Parses a Tributary topic; null for anything that is not one (foreign or malformed). */
export function parseTopic(topic: string): ParsedTopic | null {
  const l = topic.split('/');
  if (l[0] !== TOPIC_ROOT || l.length < 3 || !l.slice(1).every(isValidId)) return null;
  const [, publisher, kind] = l;
  if (l.length === 3) {
    const nodeKind = NODE_KIND_BY_WIRE.get(kind);
    if (nodeKind) return { kind: nodeKind, nodeId: publisher };
    if (publisher === MASTER_ID && kind === 'broadcast') return { kind: 'broadcast' };
    return null;
  }
  if (l.length === 4 && publisher === MASTER_ID) {
    if (kind === 'ctl') return { kind: 'control', nodeId: l[3] };
    if (kind === 'clock') return { kind: 'appClock', appId: l[3] };
    return null;
  }
  if (l.length === 6 && (kind === 'data' || kind === 'credit')) {
    return { kind, from: publisher, to: l[3], appId: l[4], taskAddr: l[5] };
  }
  return null;
}

/** MQTT topic matching (`+` one level, `#` this level and below), for handlers sharing a transport. */
export function matchesFilter(filter: string, topic: string): boolean {
  return levelsMatch(filter.split('/'), topic.split('/'));
}

function levelsMatch(f: readonly string[], t: readonly string[]): boolean {
  // [MQTT-4.7.2-1] wildcard filters at the first level do not match `$` topics.
  if ((f[0] === '#' || f[0] === '+') && t[0].startsWith('$')) return false;
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true;
    if (i >= t.length) return false;
    if (f[i] !== '+' && f[i] !== t[i]) return false;
  }
  return f.length === t.length;
}

/**
 * Whether every topic `filter` can match is also matched by `pattern` (both may hold wildcards).
 * The read check of the ACL; also used for application topic grants (cloud-core broker-auth.ts).
 */
export function filterCoveredBy(filter: string, pattern: string): boolean {
  return levelsCovered(filter.split('/'), pattern.split('/'));
}

function levelsCovered(f: readonly string[], p: readonly string[]): boolean {
  for (let i = 0; i < p.length; i++) {
    if (p[i] === '#') return true;
    if (i >= f.length || f[i] === '#') return false;
    if (p[i] !== '+' && p[i] !== f[i]) return false;
  }
  return f.length === p.length;
}

/**
 * One ACL line. `%c` stands for the identity the broker authenticated (the principal id, = the
 * node id); `role: 'master'` restricts a rule to the master's role.
 */
export interface AclRule {
  access: 'read' | 'write';
  pattern: string;
  role?: typeof MASTER_ID;
}

/** The per-node policy, evaluated by the embedded broker and rendered for Mosquitto. */
export const ACL_RULES: readonly AclRule[] = [
  // A node publishes only under its own prefix: its status/hello/hb/clock/events, and data and
  // credits it sends (so the first id of every topic is the authenticated publisher).
  { access: 'write', pattern: `${TOPIC_ROOT}/%c/#` },
  // It reads only what is addressed to it, plus the master's application clocks and broadcasts.
  { access: 'read', pattern: `${TOPIC_ROOT}/+/data/%c/#` },
  { access: 'read', pattern: `${TOPIC_ROOT}/+/credit/%c/#` },
  { access: 'read', pattern: `${TOPIC_ROOT}/${MASTER_ID}/ctl/%c` },
  { access: 'read', pattern: `${TOPIC_ROOT}/${MASTER_ID}/clock/+` },
  { access: 'read', pattern: `${TOPIC_ROOT}/${MASTER_ID}/broadcast` },
  // The master (by role, whatever its client id) reads everything and writes its prefix.
  { access: 'read', pattern: `${TOPIC_ROOT}/#`, role: MASTER_ID },
  { access: 'write', pattern: `${TOPIC_ROOT}/${MASTER_ID}/#`, role: MASTER_ID },
];

/**
 * Who is asking. The embedded broker with authentication passes the authenticated principal
 * (`id` = its id, `role` = its role; a node's connector clients `<id>.…` act as `<id>`); the
 * anonymous dev broker (`enforceTopicAcl`) passes the client id and role `master` for username
 * `master`.
 */
export interface AclPrincipal {
  id: string;
  role?: string;
}

function rulesFor(principal: AclPrincipal, access: AclRule['access']): string[] {
  const out: string[] = [];
  for (const rule of ACL_RULES) {
    if (rule.access !== access) continue;
    if (rule.role !== undefined && rule.role !== principal.role) continue;
    if (rule.pattern.includes('%c')) {
      // Like Mosquitto 2: an identity that is not a valid topic level gets no pattern rights.
      if (!isValidId(principal.id)) continue;
      out.push(rule.pattern.replaceAll('%c', principal.id));
    } else {
      out.push(rule.pattern);
    }
  }
  return out;
}

/** The ACL of one principal, its patterns resolved and split once (the broker keeps one per client). */
export interface CompiledAcl {
  /** May it publish on `topic` (also checked for its last will)? */
  canPublish(topic: string): boolean;
  /** May it subscribe to `filter`? Only if every topic the filter matches is readable. */
  canSubscribe(filter: string): boolean;
}

export function compileAcl(principal: AclPrincipal): CompiledAcl {
  const writePatterns = rulesFor(principal, 'write');
  // The hot path (every PUBLISH): `a/b/#` without `+` is a prefix test (`#` also matches `a/b`).
  const prefixes = writePatterns.filter((p) => /^[^+#]+\/#$/.test(p)).map((p) => p.slice(0, -1));
  const write = writePatterns.filter((p) => !/^[^+#]+\/#$/.test(p)).map((p) => p.split('/'));
  const read = rulesFor(principal, 'read').map((p) => p.split('/'));
  return {
    canPublish(topic) {
      for (const prefix of prefixes) if (topic.startsWith(prefix) || topic === prefix.slice(0, -1)) return true;
      if (write.length === 0) return false;
      const t = topic.split('/');
      return write.some((p) => levelsMatch(p, t));
    },
    canSubscribe(filter) {
      const f = filter.split('/');
      return read.some((p) => levelsCovered(f, p));
    },
  };
}

/** May `principal` publish on `topic` (also checked for its last will)? */
export function canPublish(principal: AclPrincipal, topic: string): boolean {
  return compileAcl(principal).canPublish(topic);
}

/** May `principal` subscribe to `filter`? Only if every topic the filter matches is readable. */
export function canSubscribe(principal: AclPrincipal, filter: string): boolean {
  return compileAcl(principal).canSubscribe(filter);
}

/**
 * Whether a topic or filter may reach Tributary's own topics (`trib/…`, or a first level `+`/`#`
 * that matches them): those are decided by {@link ACL_RULES} alone, never by application grants.
 * `$…` topics (`$SYS`, the broker's own) count as fabric topics too: nobody is granted them.
 */
export function touchesFabricTopics(topicOrFilter: string): boolean {
  const slash = topicOrFilter.indexOf('/');
  const first = slash < 0 ? topicOrFilter : topicOrFilter.slice(0, slash);
  return first === TOPIC_ROOT || first === '+' || first === '#' || first.startsWith('$');
}

export interface MosquittoAclOptions {
  /**
   * Which Mosquitto substitution stands for the identity in `pattern` lines. Default `'username'`
   * (`%u`): the deployment form, with `use_identity_as_username true` (the certificate CN is the
   * username) or a password file (username = id); connector clients `<id>.…` then act as their
   * node, as on the embedded broker. `'clientid'` (`%c`): an anonymous broker where the client id
   * is the only identity (tests of the policy itself; nothing stops impersonation there).
   */
  identity?: 'username' | 'clientid';
}

/**
 * Text of a Mosquitto 2 `acl_file` implementing {@link ACL_RULES}. The master's rules go to a
 * `user master` section: on a broker with authentication only the master's certificate (CN
 * `master`, issued to role master only) or password entry carries username `master`.
 * Application topics (a `client`'s grants, connector topics) are not in it: add `topic` lines to
 * the users that need them.
 */
export function mosquittoAclFor(options: MosquittoAclOptions = {}): string {
  const variable = (options.identity ?? 'username') === 'username' ? '%u' : '%c';
  const lines = [
    '# Tributary per-node topic ACL, generated by @tributary/shared wire/topics.ts.',
    `# pattern lines apply to every client; ${variable} is replaced by the ${variable === '%u' ? 'username (= node id: use_identity_as_username true, or the password file)' : 'client id (= node id)'}.`,
  ];
  for (const r of ACL_RULES) if (r.role === undefined) lines.push(`pattern ${r.access} ${r.pattern.replaceAll('%c', variable)}`);
  lines.push('', `user ${MASTER_ID}`);
  for (const r of ACL_RULES) if (r.role === MASTER_ID) lines.push(`topic ${r.access} ${r.pattern}`);
  return lines.join('\n') + '\n';
}
