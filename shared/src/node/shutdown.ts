import type { Logger } from '../log/log.js';

/**
 * Graceful shutdown for a long-running process: the first SIGINT/SIGTERM runs `stop` and exits 0
 * (1 if stopping failed); a second signal exits at once.
 */
export function exitOnSignal(stop: () => Promise<void>, log: Logger): void {
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      log.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    log.info({ signal }, 'stopping (signal again to exit at once)');
    stop().then(() => process.exit(0), (err: unknown) => {
      log.error({ err }, 'stopping failed');
      process.exit(1);
    });
  };
  process.on('SIGINT', onSignal).on('SIGTERM', onSignal);
}
