import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { MASTER_ID, connectMqttTransport, parseTopic, topics, type Logger, type MasterConfig, type Transport } from '@tributary/shared';
import { startEmbeddedBroker, type EmbeddedBroker } from '../broker/index.js';
import { AppManager } from './app-manager.js';
import { buildHttpApi } from './http-api.js';
import { LevelMasterStore } from './level-master-store.js';
import { LevelCheckpointStore } from './checkpoint-store.js';
import { Registry } from './registry.js';
import { AgentArtefacts } from './agent-artefacts.js';
import { RolloutManager } from './rollout-manager.js';

/**
 * The control plane: embedded broker (unless an external one is configured), registry,
 * applications, REST API. Start order follows dependencies; stop order is the reverse.
 */
export class Master {
  private broker: EmbeddedBroker | null = null;
  private transport: Transport | null = null;
  private http: FastifyInstance | null = null;
  private registry: Registry | null = null;
  private store: LevelMasterStore | null = null;
  private checkpoints: LevelCheckpointStore | null = null;
  private rollouts: RolloutManager | null = null;
  brokerUrl = '';
  httpUrl = '';

  constructor(private readonly config: MasterConfig, private readonly log: Logger) {}

  async start(): Promise<void> {
    const { config, log } = this;
    await mkdir(config.data, { recursive: true });
    this.store = new LevelMasterStore(join(config.data, 'master.db'));
    await this.store.open();
    this.checkpoints = new LevelCheckpointStore(join(config.data, 'checkpoints.db'));
    await this.checkpoints.open();
    if (config.broker) {
      this.brokerUrl = config.broker;
    } else {
      this.broker = await startEmbeddedBroker({
        host: '127.0.0.1', port: config.mqttPort, log: log.child({ component: 'broker' }),
        limits: { maxPacketBytes: config.brokerMaxPacketKb * 1024, maxPublishRate: config.brokerMaxPublishRate, maxConnections: config.brokerMaxConnections },
      });
      this.brokerUrl = this.broker.url;
    }
    this.transport = await connectMqttTransport({ url: this.brokerUrl, clientId: MASTER_ID, username: MASTER_ID, log, keepaliveSeconds: 5 });
    this.registry = new Registry(this.store, config.nodeTimeoutMs, log.child({ component: 'registry' }));
    await this.registry.load();
    const registry = this.registry;
    const publicUrl = () => config.publicUrl ?? this.httpUrl;
    const apps = new AppManager(this.store, registry, this.transport, (sha) => `${publicUrl()}/bundles/${sha}`, log.child({ component: 'apps' }), {
      checkpointIntervalMs: config.checkpointIntervalMs, checkpoints: this.checkpoints,
    });
    // Fleet rollouts: loaded before the applications, so every desired state published names the agent version.
    const rollouts = new RolloutManager({
      store: this.store, registry, artefacts: new AgentArtefacts({ agentDir: config.agentDir, dataDir: config.data }),
      publicUrl, publish: (node) => apps.publishNode(node), log: log.child({ component: 'rollouts' }),
    });
    this.rollouts = rollouts;
    apps.agentSource = (node) => rollouts.agentFor(node);
    await rollouts.load();
    this.transport.onMessage((topic, payload) => {
      const t = parseTopic(topic);
      if (!t) return;
      if (t.kind === 'hello') registry.onHello(t.nodeId, payload);
      else if (t.kind === 'status') registry.onStatus(t.nodeId, payload);
      else if (t.kind === 'heartbeat') registry.onHeartbeat(t.nodeId, payload);
      else if (t.kind === 'checkpoint') void apps.onCheckpoint(payload);
    });
    const broker = this.broker;
    this.http = await buildHttpApi({ apps, registry, store: this.store, log, install: { agentDir: config.agentDir, dataDir: config.data, publicUrl: config.publicUrl }, rollouts, ...(broker ? { broker: { stats: () => broker.stats() } } : {}) });
    await this.http.listen({ host: config.httpHost, port: config.httpPort });
    const addr = this.http.server.address();
    const port = typeof addr === 'object' && addr ? addr.port : config.httpPort;
    this.httpUrl = `http://${config.httpHost === '0.0.0.0' ? '127.0.0.1' : config.httpHost}:${port}`;
    await this.transport.subscribe(topics.masterSubscriptions(), 1);
    await apps.load();
    log.info({ broker: this.brokerUrl, http: this.httpUrl, dashboard: `${this.httpUrl}/`, data: config.data }, 'master started');
  }

  async stop(): Promise<void> {
    this.registry?.stop();
    this.rollouts?.stop();
    await this.http?.close().catch(() => {});
    await this.transport?.close().catch(() => {});
    await this.broker?.close().catch(() => {});
    await this.store?.close().catch(() => {});
    await this.checkpoints?.close().catch(() => {});
    this.log.info('master stopped');
  }
}
