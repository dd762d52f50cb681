import { Params, simulatedSensors, type SensorReading } from '@tributary/shared';
import { keepOnEdge, settings, type PlantWindow } from '../examples/plant-monitor.js';

export type { PlantWindow };

/**
 * What plant-monitor must publish for these devices and params, without any failure: the same
 * seeded readings each agent generates (the simulator is the input, not the code under test),
 * filtered and grouped by a plain loop. Keyed by plantKey().
 */
export async function expectedPlantWindows(devices: string[], raw: Record<string, string>): Promise<Map<string, PlantWindow>> {
  const s = settings(new Params(raw));
  const acc = new Map<string, { device: string; sensor: string; windowStart: number; count: number; sum: number; min: number; max: number }>();
  for (const device of devices) {
    const source = simulatedSensors({ sensors: s.sensors, intervalMs: s.intervalMs, count: s.count, startTs: s.startTs, seed: s.seed, spikes: 0.01, paced: false }).create();
    await source.open({ taskIndex: 0, parallelism: 1, log: undefined as never, nodeId: device, nodeLabels: {}, reject: () => {} });
    for (let batch = await source.read(10_000); batch; batch = await source.read(10_000)) {
      for (const { value: r } of batch as { value: SensorReading }[]) {
        if (!keepOnEdge(s, r)) continue;
        const windowStart = Math.floor(r.ts / s.windowMs) * s.windowMs;
        const key = plantKey({ device: r.device, sensor: r.sensor, windowStart });
        let w = acc.get(key);
        if (!w) acc.set(key, (w = { device: r.device, sensor: r.sensor, windowStart, count: 0, sum: 0, min: Infinity, max: -Infinity }));
        w.count++;
        w.sum += r.value;
        w.min = Math.min(w.min, r.value);
        w.max = Math.max(w.max, r.value);
      }
    }
    await source.close();
  }
  const out = new Map<string, PlantWindow>();
  for (const [key, w] of acc) {
    out.set(key, { device: w.device, sensor: w.sensor, windowStart: w.windowStart, windowEnd: w.windowStart + s.windowMs, count: w.count, min: w.min, max: w.max, avg: w.sum / w.count });
  }
  return out;
}

export function plantKey(w: { device: string; sensor: string; windowStart: number }): string {
  return `${w.device}/${w.sensor}@${w.windowStart}`;
}
