import { createLogger, exitOnSignal, loadConfig, masterConfigSchema, type ConfigSources } from '@tributary/shared';
import { Master } from './master.js';

/** `tributary master`: load config, start, stop on SIGINT/SIGTERM. */
export async function runMaster(sources: ConfigSources): Promise<Master> {
  const config = loadConfig(masterConfigSchema, sources);
  const log = createLogger({ level: config.logLevel, name: 'master' });
  const master = new Master(config, log);
  await master.start();
  exitOnSignal(() => master.stop(), log);
  return master;
}
