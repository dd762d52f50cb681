// How fast the fleet generator produces records, single-threaded, no runtime:
//   node --import=tsx simulators/scripts/fleet-rate.ts [records]
import { FleetGenerator, type FleetOptions, type FleetReading, type Message } from '@tributary/shared';

const total = Number(process.argv[2] ?? 3_000_000);
const cases: [string, FleetOptions][] = [
  ['1,000 devices, sine, in order', { devices: 1000, rateHz: 10 }],
  ['1,000 devices, random walk + spikes', { devices: 1000, rateHz: 10, model: 'random-walk', spikes: 0.01 }],
  ['1,000 devices, 200-byte payload', { devices: 1000, rateHz: 10, payloadBytes: 200 }],
  ['1,000 devices, out of order 500 ms + skew 100 ms', { devices: 1000, rateHz: 10, maxOutOfOrderMs: 500, clockSkewMs: 100 }],
  ['1,000 devices, 10% offline 10 s', { devices: 1000, rateHz: 10, disconnects: [{ fraction: 0.1, atMs: 1000, durationMs: 10_000 }] }],
];
for (const [name, options] of cases) {
  const gen = new FleetGenerator(options, { nodeId: 'bench', startTs: 1_700_000_000_000 });
  let n = 0;
  const t0 = process.hrtime.bigint();
  while (n < total) {
    const batch: Message<FleetReading>[] = [];
    n += gen.fill(batch, 1000);
  }
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  process.stdout.write(`${name.padEnd(52)} ${(n / s / 1e6).toFixed(2)} M records/s\n`);
}
