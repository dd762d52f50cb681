/**
 * The per-record cost of a source's clock: one clock (BoundedDelayWatermark) against a clock per
 * device (DeviceWatermark), for 1, 100 and 10,000 devices publishing round-robin, each in order,
 * and 10,000 devices in random order. Prints ns/record. Nothing asserted.
 *
 *   npx tsx bench/device-clock.ts [records=5000000]
 */
import { BoundedDelayWatermark } from '../shared/src/api/clock/watermark.js';
import { DeviceWatermark } from '../shared/src/api/clock/device-watermark.js';

const N = Number(process.argv[2] ?? 5_000_000);

function workload(devices: number, random: boolean): { ids: string[]; dev: Uint32Array; ts: Float64Array } {
  const ids = Array.from({ length: devices }, (_, i) => `sensors/dev-${i}/temp`);
  const dev = new Uint32Array(N);
  const ts = new Float64Array(N);
  const next = new Float64Array(devices).fill(1_700_000_000_000);
  let x = 0x9e3779b9;
  const rand = () => {
    // xorshift32
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 4294967296;
  };
  for (let i = 0; i < N; i++) {
    // Random order: every device's first reading first (see DeviceWatermark on devices that start behind).
    const d = random && i >= devices ? Math.floor(rand() * devices) : i % devices;
    dev[i] = d;
    ts[i] = next[d];
    next[d] += 1 + Math.floor(rand() * 10);
  }
  return { ids, dev, ts };
}

function time(label: string, f: () => number): void {
  f(); // warm-up
  const t0 = process.hrtime.bigint();
  const late = f();
  const ns = Number(process.hrtime.bigint() - t0) / N;
  console.log(`${label.padEnd(44)} ${ns.toFixed(1).padStart(7)} ns/record  late ${late}`);
}

for (const [devices, random] of [[1, false], [100, false], [10_000, false], [10_000, true]] as const) {
  const { ids, dev, ts } = workload(devices, random);
  const order = random ? 'random' : 'round-robin';
  time(`one clock, ${devices} devices ${order}`, () => {
    const w = new BoundedDelayWatermark(50);
    let late = 0;
    for (let i = 0; i < N; i++) {
      if (ts[i] < w.current()) late++;
      else w.observe(ts[i]);
    }
    return late;
  });
  time(`per device, ${devices} devices ${order}`, () => {
    const w = new DeviceWatermark(50, 60_000);
    let late = 0;
    for (let i = 0; i < N; i++) if (!w.offer(ids[dev[i]], ts[i])) late++;
    return late;
  });
}
