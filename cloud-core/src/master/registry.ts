import { EventEmitter } from 'node:events';
import { MASTER_ID, decodeControl, type AgentUpdateReport, type Logger, type NodeEventLoopReport, type NodeHeartbeat, type NodeHello, type ReplayLogReport } from '@tributary/shared';
import type { MasterStore, NodeRecord } from './master-store.js';

export interface NodeView extends NodeRecord {
  online: boolean;
  /** What the node last said about each application it runs. */
  apps: NodeHeartbeat['apps'];
  /** Its replay logs' state from its last heartbeat (nodes that host sources); absent otherwise. */
  replayLog?: ReplayLogReport;
  /** Its watchdog's node-level counts (nodes that host applications inline); absent otherwise. */
  eventLoop?: NodeEventLoopReport;
  /** The node process's boot id (from its hello): a new one means it restarted. */
  boot?: string;
  /** Desired states the node refused (failed their schema) since it started, from its last heartbeat. */
  controlRejected?: number;
  /** Agents: their binary's version and their last update, from their last hello or heartbeat (rollouts). */
  agent?: AgentUpdateReport;
  /** Bundles the node refused unevaluated (bad, missing or foreign signature, wrong sha256) since it started, by reason. */
  bundleRejected?: Record<string, number>;
  /** Its heartbeat period while it hosts nothing, from its hello (absent: always the usual one). */
  idleHeartbeatMs?: number;
}

/**
 * Which nodes exist and which are alive. A node is online from its hello or `online` status until
 * its last will (`offline`, published by the broker within 1.5 keep-alives of a lost connection)
 * or `timeoutMs` without a heartbeat, whichever comes first. Emits 'change' when the set of
 * online nodes or their labels change, and 'heartbeat' for every heartbeat.
 */
export class Registry extends EventEmitter {
  private readonly nodes = new Map<string, NodeView>();
  /** Hellos and heartbeats that failed their schema, since start. */
  controlRejected = 0;
  private sweeper: NodeJS.Timeout | null = null;

  constructor(private readonly store: MasterStore, private readonly timeoutMs: number, private readonly log: Logger) {
    super();
  }

  async load(): Promise<void> {
    for (const n of await this.store.listNodes()) this.nodes.set(n.id, { ...n, online: false, apps: {} });
    this.sweeper = setInterval(() => this.sweep(), Math.min(500, this.timeoutMs / 2));
  }

  stop(): void {
    if (this.sweeper) clearInterval(this.sweeper);
  }

  /** Nodes known (online or not). */
  get size(): number {
    return this.nodes.size;
  }

  list(): NodeView[] {
    return [...this.nodes.values()].sort((a, b) => (a.id < b.id ? -1 : 1));
  }

  get(id: string): NodeView | undefined {
    return this.nodes.get(id);
  }

  onHello(id: string, payload: Buffer): void {
    if (id === MASTER_ID) return;
    const decoded = decodeControl('hello', payload);
    if (!decoded.ok) return this.rejectControl(id, decoded.reason);
    const hello: NodeHello = decoded.value;
    const now = Date.now();
    const prev = this.nodes.get(id);
    const node: NodeView = {
      id, kind: hello.kind, labels: { ...hello.labels }, slots: hello.slots, version: hello.version,
      firstSeen: prev?.firstSeen ?? now, lastSeen: now, clockOffsetMs: Number.isFinite(hello.now) ? hello.now - now : 0,
      online: prev?.online ?? false, apps: prev?.apps ?? {}, boot: hello.boot, ...(hello.agent ? { agent: hello.agent } : {}),
      ...(hello.idleHeartbeatMs ? { idleHeartbeatMs: hello.idleHeartbeatMs } : {}),
    };
    this.nodes.set(id, node);
    void this.store.putNode(stripView(node)).catch((err: Error) => this.log.error({ err }, 'cannot persist node'));
    const labelsChanged = prev && JSON.stringify(prev.labels) !== JSON.stringify(node.labels);
    if (!prev) this.log.info({ node: id, kind: node.kind, labels: node.labels }, 'node registered');
    if (!prev || labelsChanged) this.emit('change');
    // A restart the master may not have seen as offline (it came back within the keep-alive).
    if (prev?.boot && hello.boot && prev.boot !== hello.boot) this.emit('restarted', node);
  }

  onStatus(id: string, payload: Buffer): void {
    const online = payload.toString() === 'online';
    const node = this.nodes.get(id);
    if (!node) return;
    if (online) node.lastSeen = Date.now();
    this.setOnline(node, online, online ? 'connected' : 'last will / clean leave');
  }

  onHeartbeat(id: string, payload: Buffer): void {
    const node = this.nodes.get(id);
    if (!node) return;
    const decoded = decodeControl('heartbeat', payload);
    if (!decoded.ok) return this.rejectControl(id, decoded.reason);
    const hb: NodeHeartbeat = decoded.value;
    node.apps = hb.apps ?? {};
    node.replayLog = replayLogOf(hb.replayLog);
    node.eventLoop = hb.eventLoop;
    node.controlRejected = hb.controlRejected ?? 0;
    if (hb.agent) node.agent = hb.agent;
    node.bundleRejected = { ...(hb.bundleRejected ?? {}) };
    node.lastSeen = Date.now();
    this.setOnline(node, true, 'heartbeat');
    this.emit('heartbeat', node);
  }

  /**
   * A hello or heartbeat that does not validate: counted (`tributary_control_rejected_total`),
   * logged (the first ten, then every thousandth) and dropped; the node's state stays as it was.
   */
  private rejectControl(node: string, reason: string): void {
    const n = ++this.controlRejected;
    if (n <= 10 || n % 1000 === 0) this.log.warn({ node, rejected: n, reason }, 'control message rejected');
  }

  private setOnline(node: NodeView, online: boolean, why: string): void {
    if (node.online === online) return;
    node.online = online;
    this.log.info({ node: node.id, why }, `node ${online ? 'online' : 'offline'}`);
    // With why it went (last will, no heartbeat): AppManager names it in the recovery's reason.
    if (!online) this.emit('offline', node, why);
    this.emit('change');
  }

  private sweep(): void {
    const now = Date.now();
    for (const node of this.nodes.values()) {
      if (!node.online) continue;
      // A node hosting nothing beats at its idle period (its hello says which): allowed as much
      // longer. Its connection's liveness is the broker's keep-alive and last will meanwhile.
      const idle = node.idleHeartbeatMs && Object.keys(node.apps).length === 0 ? node.idleHeartbeatMs * 2 + this.timeoutMs : 0;
      const timeout = Math.max(this.timeoutMs, idle);
      if (node.lastSeen < now - timeout) this.setOnline(node, false, `no heartbeat for ${timeout} ms`);
    }
  }
}

function stripView(n: NodeView): NodeRecord {
  const { online: _o, apps: _a, boot: _b, eventLoop: _e, controlRejected: _c, bundleRejected: _r, agent: _g, idleHeartbeatMs: _i, ...record } = n;
  return record;
}

/** The heartbeat's replay-log report if it has the expected shape (nodes are not trusted blindly). */
function replayLogOf(r: unknown): ReplayLogReport | undefined {
  if (!r || typeof r !== 'object') return undefined;
  const x = r as Record<string, unknown>;
  const num = (k: string) => (typeof x[k] === 'number' && Number.isFinite(x[k]) ? (x[k] as number) : 0);
  return { backlogRecords: num('backlogRecords'), diskBytes: num('diskBytes'), quotaBytes: num('quotaBytes'), droppedRecords: num('droppedRecords'), blocked: x.blocked === true };
}

