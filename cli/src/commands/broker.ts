import type { Command } from 'commander';
import { createLogger, exitOnSignal } from '@tributary/shared';

/**
 * `tributary broker`: the embedded aedes broker (in memory, nothing retained across restarts) as
 * a process of its own, for a master started with `--broker`: what the chaos command kills and
 * restarts. A stand-in for Mosquitto on one machine, not a production broker.
 */
export function registerBroker(program: Command): void {
  program
    .command('broker')
    .description('run a standalone MQTT broker (aedes, in memory) until SIGTERM/SIGINT, for `tributary master --broker`')
    .option('--port <port>', 'TCP port; 0 picks a free one', '1883')
    .option('--host <host>', 'interface to listen on', '127.0.0.1')
    .option('--max-packet-kb <kb>', 'largest MQTT packet, KiB (bigger: connection closed); 0 = no limit', '32768')
    .option('--max-publish-rate <n>', 'PUBLISHes/s per client (burst 2x; over it: dropped); 0 = no limit', '20000')
    .option('--max-connections <n>', 'concurrent clients (more: CONNACK 3); 0 = no limit', '20000')
    .option('--log-level <level>', 'trace|debug|info|warn|error|silent (env TRIBUTARY_LOG_LEVEL)')
    .action(async (o: { port: string; host: string; logLevel?: string; maxPacketKb: string; maxPublishRate: string; maxConnections: string }) => {
      const port = Number(o.port);
      if (!Number.isInteger(port) || port < 0 || port > 65535) throw new TypeError(`--port: expected 0-65535, got ${JSON.stringify(o.port)}`);
      const log = createLogger({ level: o.logLevel, name: 'broker' });
      const { startEmbeddedBroker } = await import('@tributary/cloud-core');
      const limit = (flag: string, v: string): number => {
        const n = Number(v);
        if (!Number.isInteger(n) || n < 0) throw new TypeError(`--${flag}: expected an integer >= 0, got ${JSON.stringify(v)}`);
        return n;
      };
      const limits = {
        maxPacketBytes: limit('max-packet-kb', o.maxPacketKb) * 1024,
        maxPublishRate: limit('max-publish-rate', o.maxPublishRate),
        maxConnections: limit('max-connections', o.maxConnections),
      };
      const broker = await startEmbeddedBroker({ host: o.host, port, log, limits });
      exitOnSignal(() => broker.close(), log);
      log.info({ url: broker.url, host: broker.host, port: broker.port }, 'broker started');
    });
}
