import { join, resolve } from 'node:path';
import { ConfigError, NodeAgent, agentConfigSchema, createLogger, exitOnSignal, loadConfig, type ConfigSources } from '@tributary/shared';
import { useNativeDir } from './native/sea-addon.js';

/**
 * `tributary agent` and the binary `tributary-agent`: the device agent. It hosts the edge part of
 * applications with the same task runtime as the cloud, and stays light: shared/ and an MQTT
 * client, nothing of the cloud.
 */
export async function runAgent(sources: ConfigSources, host: { threads: boolean } = { threads: true }): Promise<NodeAgent> {
  const config = loadConfig(agentConfigSchema, sources);
  // The single binary has no thread entry to start a worker from: it hosts applications inline.
  if (!host.threads && config.isolation === 'thread') throw new ConfigError('isolation=thread: this binary hosts applications inline only (use `tributary agent` for threads)');
  // Inside the single binary, native addons (LevelDB) are written here before first use.
  useNativeDir(join(resolve(config.data), '.native'));
  const log = createLogger({ level: config.logLevel, name: config.id });
  const node = new NodeAgent({
    id: config.id, kind: 'agent', labels: config.labels, slots: config.slots, brokerUrl: config.master,
    heartbeatMs: config.heartbeatMs, dataDir: config.data, logLevel: config.logLevel, log,
    replayLog: { enabled: config.replayLog, quotaBytes: config.replayQuotaMb * 1024 * 1024, policy: config.replayQuotaPolicy },
    isolation: config.isolation, watchdogMs: config.watchdogMs, appHeapMb: config.appHeapMb,
    ...(config.masterKey ? { masterKeyFile: config.masterKey } : {}),
  });
  await node.start();
  exitOnSignal(() => node.stop(), log);
  return node;
}
