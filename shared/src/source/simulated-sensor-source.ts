import { setTimeout as sleep } from 'node:timers/promises';
import type { Message } from '../message.js';
import { hashKey } from '../partitioner/hash-partitioner.js';
import { mulberry32 } from '../util/prng.js';
import type { Source, SourceContext, SourceSpec } from './source.js';

export interface SensorReading {
  ts: number;
  device: string;
  sensor: string;
  value: number;
}

export interface SimulatedSensorsOptions {
  /** Seed for values; each device mixes in its own id, so devices differ but repeat exactly. */
  seed?: number;
  /** Sensor names per device (default ['temperature']). */
  sensors?: string[];
  /** Event-time spacing of one sensor's readings, ms (default 100: 10 readings/s per sensor). */
  intervalMs?: number;
  /** Readings per sensor before the source ends; unbounded when absent. */
  count?: number;
  /** Event time of the first reading (default: wall clock at open). */
  startTs?: number;
  /**
   * Emit in step with the wall clock (reading i not before start + i·interval). Default: true for
   * unbounded sources (a live demo), false with `count` (as fast as possible, for tests/benches).
   */
  paced?: boolean;
  /** Value model: a slow sine with noise (default), or a random walk. */
  model?: 'sine' | 'random-walk';
  /** Share of readings that are spikes (anomalies), 0..1. */
  spikes?: number;
}

/**
 * Simulated sensors on the device hosting the task: the device id is the hosting node's id (an
 * edge agent's), so one application placed on N agents simulates N devices. Deterministic for a
 * given seed, device and sensor: a failure-free run and a faulty run can be compared exactly.
 */
export function simulatedSensors(options: SimulatedSensorsOptions = {}): SourceSpec<SensorReading> {
  return {
    kind: 'source',
    name: `simulatedSensors(${(options.sensors ?? ['temperature']).join(',')})`,
    watermark: { maxDelayMs: 0 },
    maxParallelism: 1,
    create: () => new SimulatedSensors(options),
  };
}

class SimulatedSensors implements Source<SensorReading> {
  private device = 'device';
  private readonly sensors: string[];
  private readonly interval: number;
  private start = 0;
  private wallStart = 0;
  private i = 0;
  private paced: boolean;
  private rnd: (() => number)[] = [];
  private walk: number[] = [];

  constructor(private readonly o: SimulatedSensorsOptions) {
    this.sensors = o.sensors ?? ['temperature'];
    this.interval = o.intervalMs ?? 100;
    this.paced = o.paced ?? o.count === undefined;
    if (!(this.interval > 0)) throw new TypeError('simulatedSensors: intervalMs must be > 0');
  }

  open(ctx: SourceContext): void {
    this.device = ctx.nodeId;
    this.wallStart = Date.now();
    this.start = this.o.startTs ?? this.wallStart;
    this.rnd = this.sensors.map((s) => mulberry32((this.o.seed ?? 1) ^ hashKey(`${this.device}/${s}`)));
    this.walk = this.sensors.map(() => 20);
  }

  async read(max: number): Promise<Message<SensorReading>[] | null> {
    const count = this.o.count ?? Infinity;
    if (this.i >= count) return null;
    let upTo = Math.min(count, this.i + Math.max(1, Math.floor(max / this.sensors.length)));
    if (this.paced) {
      const due = Math.floor((Date.now() - this.wallStart) / this.interval) + 1;
      if (due <= this.i) await sleep((this.i - due + 1) * this.interval);
      upTo = Math.min(upTo, Math.max(this.i + 1, Math.floor((Date.now() - this.wallStart) / this.interval) + 1));
    }
    const out: Message<SensorReading>[] = [];
    for (; this.i < upTo; this.i++) {
      const ts = this.start + this.i * this.interval;
      for (let s = 0; s < this.sensors.length; s++) out.push({ ts, value: { ts, device: this.device, sensor: this.sensors[s], value: this.valueOf(s, ts) } });
    }
    return out;
  }

  private valueOf(s: number, ts: number): number {
    const r = this.rnd[s];
    let v: number;
    if (this.o.model === 'random-walk') {
      this.walk[s] += r() - 0.5;
      v = this.walk[s];
    } else {
      v = 20 + 5 * Math.sin(ts / 60_000 + s) + (r() - 0.5);
    }
    if (this.o.spikes && r() < this.o.spikes) v += 30;
    return Math.round(v * 100) / 100;
  }

  close(): void {}
}
