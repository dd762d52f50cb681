import { hostname } from 'node:os';
import { NodeAgent, createLogger, exitOnSignal, loadConfig, workerConfigSchema, type ConfigSources } from '@tributary/shared';

/** `tributary worker`: a cloud node hosting tasks. */
export async function runWorker(sources: ConfigSources): Promise<NodeAgent> {
  const config = loadConfig(workerConfigSchema, sources);
  const id = config.id ?? `worker-${hostname()}-${process.pid}`;
  const log = createLogger({ level: config.logLevel, name: id });
  const node = new NodeAgent({
    id, kind: 'worker', labels: config.labels, slots: config.slots, brokerUrl: config.master,
    heartbeatMs: config.heartbeatMs, dataDir: config.data, logLevel: config.logLevel, log,
    replayLog: { enabled: config.replayLog, quotaBytes: config.replayQuotaMb * 1024 * 1024, policy: config.replayQuotaPolicy },
    isolation: config.isolation, watchdogMs: config.watchdogMs, appHeapMb: config.appHeapMb,
    ...(config.masterKey ? { masterKeyFile: config.masterKey } : {}),
  });
  await node.start();
  exitOnSignal(() => node.stop(), log);
  return node;
}
