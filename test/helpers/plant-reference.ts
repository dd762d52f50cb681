import { Params, simulatedSensors, type SensorReading } from '@tributary/shared';
import { keepOnEdge, settings } from '../../examples/plant-monitor.js';
import { WindowAccumulator, type WindowRow } from './reference.js';

/** A sensor-windows row plus the sensor it is about. */
export type PlantWindow = WindowRow & { sensor: string };

/**
 * What plant-monitor must publish for these devices and params: the same seeded readings each
 * agent generates (the simulator is the input, not the code under test), filtered and grouped
 * by a plain loop.
 */
export async function expectedPlantWindows(devices: string[], raw: Record<string, string>): Promise<Map<string, PlantWindow>> {
  const params = new Params(raw);
  const s = settings(params);
  const windows = new WindowAccumulator<{ device: string; sensor: string; windowStart: number; windowEnd: number }>();
  for (const device of devices) {
    const source = simulatedSensors({ sensors: s.sensors, intervalMs: s.intervalMs, count: s.count, startTs: s.startTs, seed: s.seed, spikes: 0.01, paced: false }).create();
    await source.open({ taskIndex: 0, parallelism: 1, log: undefined as never, nodeId: device, nodeLabels: {}, reject: () => {} });
    for (let batch = await source.read(10_000); batch; batch = await source.read(10_000)) {
      for (const { value: r } of batch as { value: SensorReading }[]) {
        if (!keepOnEdge(s, r)) continue;
        const start = Math.floor(r.ts / s.windowMs) * s.windowMs;
        windows.add(`${r.device}/${r.sensor}@${start}`, () => ({ device: r.device, sensor: r.sensor, windowStart: start, windowEnd: start + s.windowMs }), r.value);
      }
    }
  }
  return windows.results();
}

export function plantKey(w: { device: string; sensor: string; windowStart: number }): string {
  return `${w.device}/${w.sensor}@${w.windowStart}`;
}
