import { join, resolve } from 'node:path';
import { ConfigError, NodeAgent, agentConfigSchema, createLogger, exitOnSignal, loadConfig, type ConfigSources } from '@tributary/shared';
import { resolveNodeConnection, startRenewal } from '@tributary/shared/identity';
import { useNativeDir } from './native/sea-addon.js';

/**
 * `tributary agent` and the binary `tributary-agent`: the device agent. It hosts the edge part of
 * applications with the same task runtime as the cloud, and stays light: shared/ and an MQTT
 * client, nothing of the cloud. It enrols with the master on its first start (an http(s) --master
 * and --token), connects with its identity, keeps its certificate renewed, and exits 1 when the
 * broker refuses it (revoked) instead of retrying forever.
 */
export async function runAgent(sources: ConfigSources, host: { threads: boolean } = { threads: true }): Promise<NodeAgent> {
  const config = loadConfig(agentConfigSchema, sources);
  // The single binary has no thread entry to start a worker from: it hosts applications inline.
  if (!host.threads && config.isolation === 'thread') throw new ConfigError('isolation=thread: this binary hosts applications inline only (use `tributary agent` for threads)');
  // Inside the single binary, native addons (LevelDB) are written here before first use.
  useNativeDir(join(resolve(config.data), '.native'));
  const log = createLogger({ level: config.logLevel, name: config.id });
  const conn = await resolveNodeConnection({ id: config.id, role: 'agent', master: config.master, token: config.enrolToken, dataDir: config.data, log });
  const node: NodeAgent = new NodeAgent({
    id: config.id, kind: 'agent', labels: config.labels, slots: config.slots, brokerUrl: conn.brokerUrl, credentials: conn.credentials,
    heartbeatMs: config.heartbeatMs, dataDir: config.data, logLevel: config.logLevel, log,
    replayLog: { enabled: config.replayLog, quotaBytes: config.replayQuotaMb * 1024 * 1024, policy: config.replayQuotaPolicy },
    isolation: config.isolation, watchdogMs: config.watchdogMs, appHeapMb: config.appHeapMb,
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
