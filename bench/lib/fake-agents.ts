/**
 * Light agents: MQTT clients that register with a master like real agents (retained hello and
 * status, a last will, a heartbeat every second staggered over the second — every idle period
 * while they host nothing, as real agents do) without running
 * anything. Optionally they listen on their control topic and report every desired state the
 * master publishes to them, play self-update and play hosting applications. Used by the
 * dashboard, control-plane and rollout benchmarks.
 */
import { createHash } from 'node:crypto';
import mqtt from 'mqtt';
import { cborDecoder, cborEncoder, topics, type AgentUpdateReport, type AppReport, type NodeDesiredState, type NodeHeartbeat, type NodeHello } from '@tributary/shared';

export interface FakeAgentsOptions {
  labels?: (i: number) => Record<string, string>;
  /** Called with each desired state published to agent `id`, and its arrival time (epoch ms). */
  onDesiredState?: (id: string, state: NodeDesiredState, at: number) => void;
  /** Connections opened at once (a thousand at a time makes a storm of CONNECTs). */
  concurrency?: number;
  /**
   * Self-update, played: the agents report this version (hello and heartbeats, `agent`) and, when
   * a desired state names another one, download it (GET its url, checked against its sha256) and
   * report the new version committed, as a real agent does after its restart (bench/rollout.ts).
   */
  agentVersion?: string;
  /**
   * Application hosting, played: for each application its desired state assigns, the agent
   * downloads the bundle when it has not got it (GET its url, checked against its sha256) and
   * reports its own tasks running in the assignment's epoch, each having processed a record
   * (bench/rollout.ts --kind app). Nothing of the application runs.
   */
  hostApps?: boolean;
  /** Heartbeat period while hosting nothing, as real agents (`idleHeartbeatMs`, default 10 s); 0: every second. */
  idleHeartbeatMs?: number;
}

export class FakeAgents {
  private readonly clients: mqtt.MqttClient[] = [];
  private readonly timers: NodeJS.Timeout[] = [];

  private constructor(readonly ids: readonly string[]) {}

  static async connect(brokerUrl: string, ids: readonly string[], o: FakeAgentsOptions = {}): Promise<FakeAgents> {
    const fleet = new FakeAgents(ids);
    try {
      let next = 0;
      const worker = async () => {
        for (let i = next++; i < ids.length; i = next++) await fleet.connectOne(brokerUrl, ids[i], i, o);
      };
      await Promise.all(Array.from({ length: Math.min(o.concurrency ?? 100, ids.length) }, worker));
      return fleet;
    } catch (err) {
      await fleet.close();
      throw err;
    }
  }

  private async connectOne(brokerUrl: string, id: string, i: number, o: FakeAgentsOptions): Promise<void> {
    const c = await mqtt.connectAsync(brokerUrl, {
      protocolVersion: 4, clientId: id, username: id, keepalive: 30, reconnectPeriod: 1000,
      will: { topic: topics.status(id), payload: Buffer.from('offline'), qos: 1, retain: true },
    });
    this.clients.push(c);
    let agent: AgentUpdateReport | undefined = o.agentVersion ? { version: o.agentVersion, arch: 'x64', slots: true, state: 'idle', seq: 0 } : undefined;
    const apps: Record<string, AppReport> = {};
    const bundles = new Set<string>();
    const idle = o.idleHeartbeatMs ?? 10_000;
    let lastBeat = 0;
    const beat = () => {
      if (idle > 1000 && Object.keys(apps).length === 0 && Date.now() - lastBeat < idle) return;
      hb();
    };
    const hb = () => {
      lastBeat = Date.now();
      void c.publishAsync(topics.heartbeat(id), Buffer.from(cborEncoder.encode({ now: Date.now(), apps, ...(agent ? { agent } : {}) } satisfies NodeHeartbeat)), { qos: 0 }).catch(() => {});
    };
    let hosting: Promise<void> = Promise.resolve();
    const host = async (state: NodeDesiredState) => {
      for (const key of Object.keys(apps)) if (!state.apps.some((a) => a.app === key)) delete apps[key];
      for (const a of state.apps) {
        if (apps[a.app]?.epoch === a.epoch) continue;
        apps[a.app] = { epoch: a.epoch, state: 'starting', tasks: [], wire: {} };
        if (!bundles.has(a.bundle.sha256)) {
          const bytes = Buffer.from(await (await fetch(a.bundle.url)).arrayBuffer());
          if (createHash('sha256').update(bytes).digest('hex') !== a.bundle.sha256) {
            apps[a.app] = { epoch: a.epoch, state: 'failed', tasks: [], wire: {}, error: 'bundle sha256 mismatch' };
            continue;
          }
          bundles.add(a.bundle.sha256);
        }
        const own = a.tasks.filter((t) => t.node === id);
        apps[a.app] = { epoch: a.epoch, state: 'running', wire: {}, tasks: own.map((t) => ({ processor: t.processor, index: t.index, in: 1, out: 1, late: 0, rejected: 0, queued: 0, maxQueued: 0, inputClock: 0 })) };
      }
      hb();
    };
    let updating = false;
    const update = async (target: NonNullable<NodeDesiredState['agent']>) => {
      if (!agent || updating || target.version === agent.version) return;
      updating = true;
      try {
        const bytes = Buffer.from(await (await fetch(target.url)).arrayBuffer());
        const ok = createHash('sha256').update(bytes).digest('hex') === target.sha256;
        agent = ok
          ? { ...agent, version: target.version, state: 'committed', target: target.version, reason: 'healthy', seq: (agent.seq ?? 0) + 1 }
          : { ...agent, state: 'failed', target: target.version, reason: 'sha256 mismatch', seq: (agent.seq ?? 0) + 1 };
        hb();
      } finally {
        updating = false;
      }
    };
    if (o.onDesiredState || agent || o.hostApps) {
      const control = topics.control(id);
      const listener = o.onDesiredState;
      c.on('message', (topic, payload) => {
        if (topic !== control) return;
        const state = cborDecoder.decode(payload) as NodeDesiredState;
        listener?.(id, state, Date.now());
        if (state.agent) void update(state.agent).catch(() => {});
        if (o.hostApps) hosting = hosting.then(() => host(state)).catch(() => {});
      });
      await c.subscribeAsync(control, { qos: 1 });
    }
    const hello: NodeHello = { kind: 'agent', labels: o.labels?.(i) ?? {}, slots: 4, version: agent?.version ?? '0.1.0', now: Date.now(), ...(agent ? { agent } : {}), ...(idle > 1000 ? { idleHeartbeatMs: idle } : {}) };
    await c.publishAsync(topics.hello(id), Buffer.from(cborEncoder.encode(hello)), { qos: 1, retain: true });
    await c.publishAsync(topics.status(id), 'online', { qos: 1, retain: true });
    // Staggered over the second, as a real fleet's heartbeats are.
    this.timers.push(setTimeout(() => this.timers.push(setInterval(beat, 1000)), (i * 1000) / this.ids.length));
  }

  async close(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    await Promise.all(this.clients.map((c) => c.endAsync().catch(() => {})));
  }
}
