/**
 * Tributary's MQTT topic layout: the ONLY place that builds and parses topic strings.
 *
 * Every topic starts with `trib/<publisher>/`, so "who may publish here" is a prefix rule
 * (`trib/%c/#`), and every topic a node reads names that node at a fixed level, so "who may read
 * here" is a pattern rule too. A broker can then enforce per-node authorization with Mosquitto
 * `pattern` ACL lines (`%c` = client id = node id), see {@link mosquittoAclFor}, or with the
 * embedded broker's `enforceTopicAcl` option, which evaluates the same {@link ACL_RULES}.
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
 * broker *username* `master` (Mosquitto `user master` section): the master connects with
 * username `master`, which also lets standby masters use other client ids. In production turn on
 * authentication and `use_username_as_clientid true`, so a client cannot pick someone else's id.
 * Node registration must refuse a node id equal to `master`.
 */

export const TOPIC_ROOT = 'trib';
/** Client id (and broker username) of the master. */
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
  const f = filter.split('/');
  const t = topic.split('/');
  // [MQTT-4.7.2-1] wildcard filters at the first level do not match `$` topics.
  if ((f[0] === '#' || f[0] === '+') && topic.startsWith('$')) return false;
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
  const f = filter.split('/');
  const p = pattern.split('/');
  for (let i = 0; i < p.length; i++) {
    if (p[i] === '#') return true;
    if (i >= f.length || f[i] === '#') return false;
    if (p[i] !== '+' && p[i] !== f[i]) return false;
  }
  return f.length === p.length;
}

/** One ACL line. `%c` stands for the client id; `user` restricts a rule to one broker username. */
export interface AclRule {
  access: 'read' | 'write';
  pattern: string;
  user?: string;
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
  // The master (by username, whatever its client id) reads everything and writes its prefix.
  { access: 'read', pattern: `${TOPIC_ROOT}/#`, user: MASTER_ID },
  { access: 'write', pattern: `${TOPIC_ROOT}/${MASTER_ID}/#`, user: MASTER_ID },
];

/** Who is asking: the MQTT client id and, if the client sent one, its username. */
export interface AclPrincipal {
  clientId: string;
  username?: string;
}

function rulesFor(principal: AclPrincipal, access: AclRule['access']): string[] {
  const out: string[] = [];
  for (const rule of ACL_RULES) {
    if (rule.access !== access) continue;
    if (rule.user !== undefined && rule.user !== principal.username) continue;
    if (rule.pattern.includes('%c')) {
      // Like Mosquitto 2: a client id that is not a valid topic level gets no pattern rights.
      if (!isValidId(principal.clientId)) continue;
      out.push(rule.pattern.replaceAll('%c', principal.clientId));
    } else {
      out.push(rule.pattern);
    }
  }
  return out;
}

/** May `principal` publish on `topic` (also checked for its last will)? */
export function canPublish(principal: AclPrincipal, topic: string): boolean {
  return rulesFor(principal, 'write').some((p) => matchesFilter(p, topic));
}

/** May `principal` subscribe to `filter`? Only if every topic the filter matches is readable. */
export function canSubscribe(principal: AclPrincipal, filter: string): boolean {
  return rulesFor(principal, 'read').some((p) => filterCoveredBy(filter, p));
}

/** Text of a Mosquitto 2 `acl_file` implementing {@link ACL_RULES}. */
export function mosquittoAclFor(): string {
  const lines = [
    '# Tributary per-node topic ACL, generated by @tributary/shared transport/topics.ts.',
    '# pattern lines apply to every client; %c is replaced by the client id (= node id).',
  ];
  for (const r of ACL_RULES) if (r.user === undefined) lines.push(`pattern ${r.access} ${r.pattern}`);
  const users = [...new Set(ACL_RULES.flatMap((r) => (r.user === undefined ? [] : [r.user])))];
  for (const user of users) {
    lines.push('', `user ${user}`);
    for (const r of ACL_RULES) if (r.user === user) lines.push(`topic ${r.access} ${r.pattern}`);
  }
  return lines.join('\n') + '\n';
}
