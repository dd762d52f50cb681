import { hostname } from 'node:os';
import { NodeAgent, createLogger, exitOnSignal, loadConfig, workerConfigSchema, type ConfigSources } from '@tributary/shared';
import { loadIdentity, resolveNodeConnection, startRenewal } from '@tributary/shared/identity';

/**
 * `tributary worker`: a cloud node hosting tasks. Enrols (role worker) and connects like an agent
 * (edge-agent/src/main.ts); without --id it keeps the id of the identity in its data directory.
 */
export async function runWorker(sources: ConfigSources): Promise<NodeAgent> {
  const config = loadConfig(workerConfigSchema, sources);
  const id = config.id ?? (await loadIdentity(config.data))?.id ?? `worker-${hostname()}-${process.pid}`;
  const log = createLogger({ level: config.logLevel, name: id });
  const conn = await resolveNodeConnection({ id, role: 'worker', master: config.master, token: config.enrolToken, brokerTls: config.brokerTls, dataDir: config.data, log });
  const node: NodeAgent = new NodeAgent({
    id, kind: 'worker', labels: config.labels, slots: config.slots, brokerUrl: conn.brokerUrl, credentials: conn.credentials,
    heartbeatMs: config.heartbeatMs, idleHeartbeatMs: config.idleHeartbeatMs, dataDir: config.data, logLevel: config.logLevel, log,
    replayLog: { enabled: config.replayLog, quotaBytes: config.replayQuotaMb * 1024 * 1024, policy: config.replayQuotaPolicy },
    isolation: config.isolation, watchdogMs: config.watchdogMs, appHeapMb: config.appHeapMb, standby: config.standby,
    ...(config.masterKey ? { masterKeyFile: config.masterKey } : {}),
    onRefused: () => void node.stop().finally(() => process.exit(1)),
  });
  await node.start();
  const renewer = startRenewal(conn, { dataDir: config.data, log, onRenewed: (c) => node.setCredentials(c) });
  exitOnSignal(async () => {
    renewer?.stop();
    await node.stop();
  }, log);
  return node;
}
