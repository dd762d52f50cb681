import { NodeAgent, agentConfigSchema, createLogger, exitOnSignal, loadConfig, type ConfigSources } from '@tributary/shared';

/**
 * `tributary agent`: the device agent. It hosts the edge part of applications with the same task
 * runtime as the cloud, and stays light: shared/ and an MQTT client, nothing of the cloud.
 */
export async function runAgent(sources: ConfigSources): Promise<NodeAgent> {
  const config = loadConfig(agentConfigSchema, sources);
  const log = createLogger({ level: config.logLevel, name: config.id });
  const node = new NodeAgent({
    id: config.id, kind: 'agent', labels: config.labels, slots: config.slots, brokerUrl: config.master,
    heartbeatMs: config.heartbeatMs, dataDir: config.data, logLevel: config.logLevel, log,
    replayLog: { enabled: config.replayLog, quotaBytes: config.replayQuotaMb * 1024 * 1024, policy: config.replayQuotaPolicy },
    isolation: config.isolation, watchdogMs: config.watchdogMs,
  });
  await node.start();
  exitOnSignal(() => node.stop(), log);
  return node;
}
