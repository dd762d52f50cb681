import { mkdir } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { MASTER_ID, connectMqttTransport, parseTopic, topics, type Logger, type MasterConfig, type Transport } from '@tributary/shared';
import { startEmbeddedBroker, type EmbeddedBroker, type Principal } from '../broker/index.js';
import { Pki } from '../pki/index.js';
import { AdminTokens } from './admin-tokens.js';
import { AppManager } from './app-manager.js';
import { DeviceRegistry, type BrokerUrls } from './device-registry.js';
import { buildHttpApi } from './http-api.js';
import { LevelMasterStore } from './level-master-store.js';
import { LevelCheckpointStore } from './checkpoint-store.js';
import { Registry } from './registry.js';
import { AgentArtefacts } from './agent-artefacts.js';
import { RolloutManager } from './rollout-manager.js';
import { DeviceTraffic, forNode } from './device-traffic.js';

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
  /** `mqtts://` URL of the embedded broker's TLS listener ('' with an external broker). */
  brokerTlsUrl = '';
  httpUrl = '';
  /** The CA, certificates and signing key under `<data>/pki` (created at first start). */
  pki: Pki | null = null;
  devices: DeviceRegistry | null = null;
  /**
   * Agents and workers on application topics (non-`trib/`): those the plans of the running
   * applications they host declare (app-topic-policy.ts); none until the applications are loaded.
   */
  appTopicPolicy: (topic: string, access: 'read' | 'write', p: Principal) => boolean = () => false;

  constructor(private readonly config: MasterConfig, private readonly log: Logger) {}

  async start(): Promise<void> {
    const { config, log } = this;
    await mkdir(config.data, { recursive: true });
    this.store = new LevelMasterStore(join(config.data, 'master.db'));
    await this.store.open();
    this.checkpoints = new LevelCheckpointStore(join(config.data, 'checkpoints.db'));
    await this.checkpoints.open();
    // Identity first: the broker's TLS listener and authentication need the PKI and the registry.
    this.pki = await Pki.loadOrCreate(join(config.data, 'pki'), { tlsNames: config.tlsNames, log: log.child({ component: 'pki' }) });
    const pki = this.pki;
    this.devices = new DeviceRegistry({
      store: this.store, pki, log: log.child({ component: 'devices' }), certLifetimeMs: config.certLifetimeDays * 86_400_000,
      brokers: () => this.advertisedBrokers(),
      onRevoke: (id) => void this.broker?.disconnectIdentity(id),
      appTopics: (topic, access, p) => this.appTopicPolicy(topic, access, p),
    });
    await this.devices.load();
    // One owner of the agent binaries, their digests and signatures: installs and rollouts.
    const artefacts = new AgentArtefacts({ agentDir: config.agentDir, signingKey: pki.signingKey });
    if (config.broker) {
      this.brokerUrl = config.broker;
    } else {
      this.broker = await startEmbeddedBroker({
        host: config.allowPlainMqtt ? config.mqttHost : '127.0.0.1', port: config.mqttPort, allowPlainOnAnyHost: config.allowPlainMqtt,
        tls: { host: config.mqttHost, port: config.mqttsPort, key: pki.serverKeyPem, cert: pki.serverCertPem, ca: pki.caCertPem },
        ...(config.allowAnonymousMqtt ? {} : { auth: this.devices }),
        log: log.child({ component: 'broker' }),
        limits: { maxPacketBytes: config.brokerMaxPacketKb * 1024, maxPublishRate: config.brokerMaxPublishRate, maxConnections: config.brokerMaxConnections },
      });
      this.brokerUrl = this.broker.url;
      this.brokerTlsUrl = this.broker.tlsUrl ?? '';
      if (config.allowAnonymousMqtt) log.warn({ broker: this.brokerUrl }, 'embedded broker admits anonymous clients (--allow-anonymous-mqtt): development only');
    }
    // The master's own MQTT identity. Embedded broker: plain loopback with a password that lives
    // only in this process (DeviceRegistry.masterPassword), so no key material is on the wire and
    // the master does not depend on its TLS listener. External broker over mqtts://: master.crt.
    const external = config.broker;
    this.transport = await connectMqttTransport({
      url: this.brokerUrl, clientId: MASTER_ID, username: MASTER_ID, log, keepaliveSeconds: 5,
      ...(!external ? { password: this.devices.masterPassword } : {}),
      ...(external?.startsWith('mqtts:') ? { tls: { ca: pki.caCertPem, cert: pki.masterCertPem, key: pki.masterKeyPem } } : {}),
    });
    this.registry = new Registry(this.store, config.nodeTimeoutMs, log.child({ component: 'registry' }));
    await this.registry.load();
    const registry = this.registry;
    const publicUrl = () => config.publicUrl ?? this.httpUrl;
    // Bytes sent to each device (binaries, bundles, configurations): its downloads name it.
    const traffic = new DeviceTraffic((node) => registry.get(node) !== undefined);
    const apps = new AppManager(this.store, registry, this.transport, (sha, node) => forNode(`${publicUrl()}/bundles/${sha}`, node), log.child({ component: 'apps' }), {
      checkpointIntervalMs: config.checkpointIntervalMs, checkpoints: this.checkpoints,
    }, { signingKey: pki.signingKey, planLimits: { heapMb: config.planHeapMb, timeoutMs: config.planTimeoutMs } });
    // Application topics on the broker: those the plans of the applications a node hosts declare.
    this.appTopicPolicy = (topic, access, p) => apps.mayUseAppTopic(p.id, access, topic);
    // Fleet rollouts: loaded before the applications, so every desired state published names the agent version.
    const rollouts = new RolloutManager({
      store: this.store, registry, artefacts,
      publicUrl, publish: (node) => apps.publishNode(node), log: log.child({ component: 'rollouts' }),
      apps, traffic, ...(pki.signingKey ? { signingKey: pki.signingKey } : {}),
    });
    this.rollouts = rollouts;
    apps.agentSource = (node) => rollouts.agentFor(node);
    apps.configSource = (node) => {
      const c = rollouts.configFor(node);
      if (c) traffic.add(node, c.body.byteLength);
      return c;
    };
    await rollouts.load();
    this.transport.onMessage((topic, payload) => {
      const t = parseTopic(topic);
      if (!t) return;
      if (t.kind === 'hello') registry.onHello(t.nodeId, payload);
      else if (t.kind === 'status') registry.onStatus(t.nodeId, payload);
      else if (t.kind === 'heartbeat') registry.onHeartbeat(t.nodeId, payload);
      else if (t.kind === 'checkpoint') void apps.onCheckpoint(payload);
    });
    const tokens = new AdminTokens(this.store, log.child({ component: 'auth' }));
    const { created } = await tokens.start(config.adminToken);
    if (created) {
      // Shown this once: only its hash is stored.
      log.warn({ id: created.id, token: created.token }, 'admin token created');
      process.stderr.write(`\nAdmin token (shown once, keep it): ${created.token}\nUse it as TRIBUTARY_TOKEN / --token for the CLI, or to log in to the dashboard.\n\n`);
    }
    const broker = this.broker;
    this.http = await buildHttpApi({
      apps, registry, store: this.store, log, auth: { tokens, metricsAuth: config.metricsAuth }, devices: this.devices, signingKeyPem: pki.signingPublicPem,
      install: { artefacts, ...(config.publicUrl ? { publicUrl: config.publicUrl } : {}) }, rollouts, traffic, ...(broker ? { broker: { stats: () => broker.stats() } } : {}),
    });
    await this.http.listen({ host: config.httpHost, port: config.httpPort });
    const addr = this.http.server.address();
    const port = typeof addr === 'object' && addr ? addr.port : config.httpPort;
    this.httpUrl = `http://${config.httpHost === '0.0.0.0' ? '127.0.0.1' : config.httpHost}:${port}`;
    await this.transport.subscribe(topics.masterSubscriptions(), 1);
    await apps.load();
    log.info({ broker: this.brokerUrl, brokerTls: this.brokerTlsUrl || null, http: this.httpUrl, dashboard: `${this.httpUrl}/`, data: config.data }, 'master started');
  }

  /**
   * The broker URLs enrolment hands to devices: the TLS listener under a name its certificate
   * carries (the listener's address, or the public URL's host / this host's name when it listens
   * on every interface), and the plain one (loopback unless --allow-plain-mqtt).
   */
  private advertisedBrokers(): BrokerUrls {
    if (this.config.broker) return this.config.broker.startsWith('mqtts:') ? { tls: this.config.broker } : { plain: this.config.broker };
    const out: BrokerUrls = {};
    if (this.broker?.tlsPort) {
      const any = this.config.mqttHost === '0.0.0.0' || this.config.mqttHost === '::';
      const host = any ? (this.config.publicUrl ? new URL(this.config.publicUrl).hostname : hostname()) : this.config.mqttHost;
      out.tls = `mqtts://${host.includes(':') && !host.startsWith('[') ? `[${host}]` : host}:${this.broker.tlsPort}`;
    }
    if (this.brokerUrl) out.plain = this.brokerUrl;
    return out;
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
