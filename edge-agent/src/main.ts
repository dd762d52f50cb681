import { dirname, join, resolve } from 'node:path';
import { ConfigError, NodeAgent, TRIBUTARY_VERSION, agentConfigSchema, createLogger, exitOnSignal, loadConfig, type ConfigSources } from '@tributary/shared';
import { resolveNodeConnection, startRenewal } from '@tributary/shared/identity';
import { useNativeDir } from './native/sea-addon.js';
import { settleAtStart } from './update/config-start.js';
import { RemoteConfig, withRemoteConfig } from './update/remote-config.js';
import { AgentUpdater } from './update/updater.js';

/**
 * `tributary agent` and the binary `tributary-agent`: the device agent. It hosts the edge part of
 * applications with the same task runtime as the cloud, and stays light: shared/ and an MQTT
 * client, nothing of the cloud. It enrols with the master on its first start (an http(s) --master
 * and --token), connects with its identity, keeps its certificate renewed, and exits 1 when the
 * broker refuses it (revoked) instead of retrying forever. Installed with install.sh it runs from
 * one of two slots under `<data>/agent` and updates itself (update/updater.ts) when the master's
 * desired state names another version, and takes remote configurations (update/remote-config.ts).
 */
export async function runAgent(sources: ConfigSources, host: { threads: boolean } = { threads: true }): Promise<NodeAgent> {
  const load = (remote?: Record<string, unknown>) => {
    const c = loadConfig(agentConfigSchema, { ...sources, ...(remote ? { remote } : {}) });
    // The single binary has no thread entry to start a worker from: it hosts applications inline.
    if (!host.threads && c.isolation === 'thread') throw new ConfigError('isolation=thread: this binary hosts applications inline only (use `tributary agent` for threads)');
    return c;
  };
  // The file, env and flags alone say where the data is (a remote configuration may not move it) ...
  const data = resolve(load().data);
  // ... and the remote configuration kept there (update/config-start.ts) goes between the file and env/flags.
  const settled = settleAtStart(join(data, 'agent'), load);
  const config = settled.config;
  // Inside the single binary, native addons (LevelDB) are written here before first use.
  useNativeDir(join(data, '.native'));
  const log = createLogger({ level: config.logLevel, name: config.id });
  for (const n of settled.notes) log[n.level]({ event: n.event, ...n.fields }, n.msg);
  let node: NodeAgent | null = null;
  // The pinned key first, then the one from enrolment, then the one install.sh kept beside the config.
  const keyFiles = [
    ...(config.masterKey ? [resolve(config.masterKey)] : []), join(data, 'identity', 'master-signing.pub'),
    ...(sources.file ? [join(dirname(resolve(sources.file)), 'master-signing.pub')] : []),
  ];
  // Exit 0 after a clean stop: the supervisor (systemd Restart=always) runs the guard, then `current`.
  const restart = (reason: string) => {
    log.info({ event: 'agent-restart', reason }, 'agent restarting for its update');
    void (node?.stop() ?? Promise.resolve()).finally(() => process.exit(0));
  };
  let remote: RemoteConfig | null = null;
  const updater = new AgentUpdater({
    dir: join(data, 'agent'), keyFiles,
    deadlineSeconds: config.updateDeadlineS, reserveBytes: config.updateReserveMb * 1024 * 1024, healthyForMs: config.updateHealthyMs,
    fallbackVersion: TRIBUTARY_VERSION, log, restart,
    changed: () => node?.reportNow(),
    blocked: () => remote?.busy() ?? false,
  });
  await updater.init();
  remote = new RemoteConfig({
    dir: join(data, 'agent'), keyFiles, settled, deadlineSeconds: config.updateDeadlineS, healthyForMs: config.updateHealthyMs,
    validate: (settings) => void load(settings), canRestart: updater.report().slots,
    busy: () => ['downloading', 'trial'].includes(updater.report().state), log, restart, changed: () => node?.reportNow(),
  });
  const conn = await resolveNodeConnection({ id: config.id, role: 'agent', master: config.master, token: config.enrolToken, brokerTls: config.brokerTls, dataDir: config.data, log });
  const started: NodeAgent = new NodeAgent({
    id: config.id, kind: 'agent', labels: config.labels, slots: config.slots, brokerUrl: conn.brokerUrl, credentials: conn.credentials,
    heartbeatMs: config.heartbeatMs, idleHeartbeatMs: config.idleHeartbeatMs, dataDir: config.data, logLevel: config.logLevel, log,
    replayLog: { enabled: config.replayLog, quotaBytes: config.replayQuotaMb * 1024 * 1024, policy: config.replayQuotaPolicy },
    isolation: config.isolation, watchdogMs: config.watchdogMs, appHeapMb: config.appHeapMb,
    ...(config.masterKey ? { masterKeyFile: config.masterKey } : {}),
    onRefused: () => void started.stop().finally(() => process.exit(1)),
    version: updater.report().version, update: withRemoteConfig(updater, remote),
  });
  node = started;
  await started.start();
  void updater.watch(() => started.health());
  remote.watch(() => started.health());
  const renewer = startRenewal(conn, { dataDir: config.data, log, onRenewed: (c) => started.setCredentials(c) });
  exitOnSignal(async () => {
    updater.stopWatching();
    remote?.stopWatching();
    renewer?.stop();
    await started.stop();
  }, log);
  return started;
}
