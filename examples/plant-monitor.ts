/**
 * Plant monitoring, edge to cloud. On every edge agent (optionally only those matching `site`):
 * simulated sensors, a plausibility threshold and downsampling. In the cloud: per device and
 * sensor, tumbling-window statistics, published as JSON to an MQTT topic any client can read.
 *
 *   npx tributary submit examples/plant-monitor.ts
 *
 * The windows go to the cluster's own broker (topic `plant/windows`) with the hosting worker's
 * identity; `--param broker=mqtt://host:port` sends them to another broker instead.
 *
 * Moving a step between edge and cloud is a change of its `.at(...)`, nothing else.
 */
import { jsonLinesSink, mqttSink, pipeline, simulatedSensors, tumbling, type Params, type Pipeline, type SensorReading, type Stream } from 'tributary';

export interface PlantMonitorSettings {
  windowMs: number;
  intervalMs: number;
  count: number | undefined;
  startTs: number | undefined;
  seed: number;
  /**
   * Emit in step with the wall clock (default: only without `count`), `speed` event-time ms per
   * wall-clock ms: a bounded run that lasts a while (the chaos command injects faults into it).
   */
  paced: boolean | undefined;
  speed: number;
  /** Readings outside [minValid, maxValid] are sensor glitches, dropped on the device. */
  minValid: number;
  maxValid: number;
  /** Keep one reading in `downsample` per sensor (by event time), to save uplink bandwidth. */
  downsample: number;
  sensors: string[];
  /** Where the windowed statistics run: 'cloud' (default) or 'edge'. Only placement changes. */
  windowsAt: 'edge' | 'cloud';
}

export function settings(params: Params): PlantMonitorSettings {
  return {
    windowMs: params.integer('windowMs', 10_000),
    intervalMs: params.integer('intervalMs', 100),
    count: params.has('count') ? params.integer('count') : undefined,
    startTs: params.has('startTs') ? params.integer('startTs') : undefined,
    seed: params.integer('seed', 1),
    paced: params.has('paced') ? !['false', '0'].includes(params.string('paced')) : undefined,
    speed: params.number('speed', 1),
    minValid: params.number('minValid', -40),
    maxValid: params.number('maxValid', 45),
    downsample: params.integer('downsample', 2),
    sensors: params.string('sensors', 'temperature,vibration').split(','),
    windowsAt: params.string('windowsAt', 'cloud') === 'edge' ? 'edge' : 'cloud',
  };
}

/** One result: window statistics of one device's sensor over [windowStart, windowEnd). */
export interface PlantWindow {
  device: string;
  sensor: string;
  windowStart: number;
  windowEnd: number;
  count: number;
  min: number;
  max: number;
  avg: number;
}

/** The edge step, exported so tests can compute the expected answer the same way. */
export function keepOnEdge(s: PlantMonitorSettings, r: SensorReading): boolean {
  return r.value >= s.minValid && r.value <= s.maxValid && Math.floor(r.ts / s.intervalMs) % s.downsample === 0;
}

/**
 * The pipeline's body, shared by the examples that send the windows elsewhere
 * (plant-to-postgres.ts): sensors and the plausibility/downsampling filter on the edge, window
 * statistics per device and sensor where `windowsAt` says.
 */
export function plantWindows(app: Pipeline, s: PlantMonitorSettings, site?: Record<string, string>): Stream<PlantWindow> {
  return app
    .source(simulatedSensors({ sensors: s.sensors, intervalMs: s.intervalMs, count: s.count, startTs: s.startTs, seed: s.seed, spikes: 0.01, paced: s.paced, speed: s.speed }))
    .at('edge', site)
    .filter((r) => keepOnEdge(s, r))
    .keyBy((r) => `${r.device}/${r.sensor}`)
    .window(tumbling(s.windowMs))
    .stats((r) => r.value)
    .at(s.windowsAt)
    .map((w): PlantWindow => {
      const [device, sensor] = String(w.key).split('/');
      return { device, sensor, windowStart: w.start, windowEnd: w.end, count: w.value.count, min: w.value.min, max: w.value.max, avg: w.value.avg };
    });
}

export default (params: Params) => {
  const s = settings(params);
  const site = params.has('site') ? { site: params.string('site') } : undefined;
  // `output`: results as JSON lines in a file on the worker (and readings that arrive behind the
  // clock in <output>.late) instead of MQTT: what the chaos test compares.
  const output = params.has('output') ? params.string('output') : undefined;
  const app = pipeline('plant-monitor');
  if (output) app.late(jsonLinesSink(`${output}.late`));
  // `idleTimeoutMs`: a device silent that long stops holding the cloud windows back; what it sends
  // later behind the clock goes to the late output.
  if (params.has('idleTimeoutMs')) app.idleTimeout(params.integer('idleTimeoutMs'));
  return plantWindows(app, s, site)
    .sink(output
      ? jsonLinesSink(output)
      : mqttSink({ ...(params.has('broker') ? { url: params.string('broker') } : {}), topic: params.string('topic', 'plant/windows'), format: 'json' }));
};
