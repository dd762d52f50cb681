/**
 * The input of every edge-to-cloud scenario and of the baselines: a seeded fleet of simulated
 * devices (`fleet`), so Tributary, the raw-MQTT transport baseline, Node-RED and local mode all
 * see exactly the same records. Shared by the benchmark app and the baseline publishers.
 */
import { fleet, type FleetReading, type Params, type SourceSpec } from 'tributary';

export interface DeviceLoad {
  /** Virtual devices behind the one source task. */
  devices: number;
  /** Readings per device (one sensor: records = devices · ticks). */
  ticks: number;
  /** Readings per second per device (the event-time spacing; also the wall-clock rate if paced). */
  rateHz: number;
  /** In step with the wall clock (latency at a fixed load) or as fast as possible (throughput). */
  paced: boolean;
  seed: number;
}

/**
 * Unpaced runs: event time advances by this many records per second of event time for the whole
 * fleet (1 device at 100 kHz, 10 at 10 kHz each, 1,000 at 100 Hz each). Windows and checkpoints
 * are event-time intervals, so this keeps them about as frequent per wall-clock second as in a live
 * deployment at that rate, and the same for every device count (a 1 ms spacing per device would
 * make one device's event time run 100 times faster than the wall clock at 100k records/s).
 */
export const DEFAULT_EVENT_RATE = 100_000;

/** `records` in all, spread over `devices` (rounded down to whole ticks per device). */
export function unpacedLoad(devices: number, records: number, eventRate = DEFAULT_EVENT_RATE, seed = 42): DeviceLoad {
  return { devices, ticks: Math.max(1, Math.floor(records / devices)), rateHz: eventRate / devices, paced: false, seed };
}

/** `ratePerSec` records/s in all for `seconds`, from `devices` devices, paced. */
export function pacedLoad(devices: number, ratePerSec: number, seconds: number, seed = 42): DeviceLoad {
  const rateHz = ratePerSec / devices;
  return { devices, ticks: Math.max(1, Math.round(rateHz * seconds)), rateHz, paced: true, seed };
}

export function totalRecords(load: DeviceLoad): number {
  return load.devices * load.ticks;
}

export function loadToParams(load: DeviceLoad): Record<string, string> {
  return { devices: String(load.devices), ticks: String(load.ticks), rateHz: String(load.rateHz), paced: String(load.paced), seed: String(load.seed) };
}

export function loadFromParams(params: Params): DeviceLoad {
  return {
    devices: params.integer('devices', 1),
    ticks: params.integer('ticks'),
    rateHz: params.number('rateHz'),
    paced: params.string('paced', 'false') === 'true',
    seed: params.integer('seed', 42),
  };
}

export function deviceSource(load: DeviceLoad): SourceSpec<FleetReading> {
  return fleet({ devices: load.devices, count: load.ticks, rateHz: load.rateHz, paced: load.paced, seed: load.seed });
}

export type { FleetReading };
