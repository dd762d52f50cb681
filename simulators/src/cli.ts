import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { startThirdPartyDevices } from './third-party.js';

/**
 * `tributary-sim`: the simulators from the command line. Composition root only: parses flags,
 * starts the third-party devices, stops them on SIGINT/SIGTERM, prints what was published.
 */
const integer = (min: number) => (v: string) => {
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < min) throw new InvalidArgumentError(`must be an integer >= ${min}`);
  return n;
};
const positive = (v: string) => {
  const n = Number(v);
  if (!(n > 0) || !Number.isFinite(n)) throw new InvalidArgumentError('must be a number > 0');
  return n;
};
const share = (v: string) => {
  const n = Number(v);
  if (!(n >= 0 && n <= 1)) throw new InvalidArgumentError('must be a number in 0..1');
  return n;
};

const program = new Command()
  .name('tributary-sim')
  .description('Tributary device-fleet simulators')
  .version('0.1.0')
  .showHelpAfterError()
  .exitOverride();

program
  .command('publish')
  .description('third-party devices: publish one plain JSON or CBOR reading per MQTT message, as real sensors do')
  .requiredOption('--url <url>', 'broker URL, e.g. mqtt://127.0.0.1:1883')
  .option('--devices <n>', 'number of devices', integer(1), 10)
  .option('--rate <hz>', 'readings per second per device and sensor', positive, 1)
  .option('--count <n>', 'readings per device and sensor, then exit (default: unbounded, until Ctrl-C)', integer(0))
  .option('--seed <n>', 'seed: the same seed publishes the same readings', integer(-(2 ** 31)), 1)
  .option('--start-ts <ms>', 'event time of the first reading, epoch ms (default: now)', integer(0))
  .option('--topic <template>', 'topic; {device} and {sensor} are replaced', 'devices/{device}/telemetry')
  .addOption(new Option('--format <format>', 'payload encoding').choices(['json', 'cbor']).default('json'))
  .addOption(new Option('--qos <qos>', 'publish QoS').choices(['0', '1']).default('1'))
  .option('--sensors <names>', 'comma-separated sensor names', 'temperature')
  .addOption(new Option('--model <model>', 'value model').choices(['sine', 'random-walk']).default('sine'))
  .option('--spikes <share>', 'share of readings that are spikes, 0..1', share, 0)
  .option('--payload-bytes <n>', 'pad each JSON reading to this many bytes', integer(0))
  .option('--id-prefix <prefix>', 'device ids are <prefix>-d<i>', 'sensor')
  .option('--paced', 'publish in step with the wall clock (default when --count is absent)')
  .option('--no-paced', 'publish as fast as the broker acknowledges')
  .action(async (o) => {
    const devices = await startThirdPartyDevices({
      url: o.url,
      devices: o.devices,
      rateHz: o.rate,
      count: o.count,
      seed: o.seed,
      startTs: o.startTs,
      topic: o.topic,
      format: o.format,
      qos: Number(o.qos) as 0 | 1,
      sensors: String(o.sensors).split(',').filter((s) => s.length > 0),
      model: o.model,
      spikes: o.spikes,
      payloadBytes: o.payloadBytes,
      idPrefix: o.idPrefix,
      paced: o.paced,
    });
    const started = Date.now();
    const stop = () => void devices.stop();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    const n = await devices.done;
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    const s = (Date.now() - started) / 1000;
    process.stdout.write(`published ${n} messages in ${s.toFixed(1)} s (${Math.round(n / Math.max(s, 0.001))}/s)\n`);
  });

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) process.exit(err.exitCode);
  process.stderr.write(`error: ${(err as Error)?.message ?? String(err)}\n`);
  process.exit(1);
}
