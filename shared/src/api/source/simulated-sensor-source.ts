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
  /**
   * When paced: event-time ms per wall-clock ms (default 1, real time). 10 plays ten seconds of
   * readings per second, so a bounded, fixed-`startTs` run still lasts long enough to watch, or to
   * inject faults into (the chaos command).
   */
  speed?: number;
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
  private readonly speed: number;
  private start = 0;
  /** Wall-clock time at which reading 0 was (or would have been) due, when paced. */
  private wallStart = 0;
  private i = 0;
  private paced: boolean;
  private rnd: (() => number)[] = [];
  private walk: number[] = [];

  constructor(private readonly o: SimulatedSensorsOptions) {
    this.sensors = o.sensors ?? ['temperature'];
    this.interval = o.intervalMs ?? 100;
    this.speed = o.speed ?? 1;
    this.paced = o.paced ?? o.count === undefined;
    if (!(this.interval > 0)) throw new TypeError('simulatedSensors: intervalMs must be > 0');
    if (!(this.speed > 0) || !Number.isFinite(this.speed)) throw new TypeError('simulatedSensors: speed must be a finite number > 0');
  }

  /**
   * With `ctx.resumeFrom` (a reading index from position()), continues at that reading: the
   * generators are run forward over the readings before it without emitting them, so every value
   * after the resume is the one an uninterrupted run produces. Pacing continues from there too.
   */
  open(ctx: SourceContext): void {
    this.device = ctx.nodeId;
    const now = Date.now();
    const resume = typeof ctx.resumeFrom === 'number' && Number.isSafeInteger(ctx.resumeFrom) && ctx.resumeFrom > 0 ? ctx.resumeFrom : 0;
    this.rnd = this.sensors.map((s) => mulberry32((this.o.seed ?? 1) ^ hashKey(`${this.device}/${s}`)));
    this.walk = this.sensors.map(() => 20);
    // Without a fixed startTs, event time follows the wall clock: the next reading is "now".
    this.start = this.o.startTs ?? now - resume * this.interval;
    this.wallStart = now - (resume * this.interval) / this.speed;
    const skip = Math.min(resume, this.o.count ?? Infinity);
    for (let i = 0; i < skip; i++) {
      const ts = this.start + i * this.interval;
      for (let s = 0; s < this.sensors.length; s++) this.valueOf(s, ts);
    }
    this.i = resume;
  }

  /** The index of the next reading (per sensor): what a restart hands back as `resumeFrom`. */
  position(): number {
    return this.i;
  }

  async read(max: number): Promise<Message<SensorReading>[] | null> {
    const count = this.o.count ?? Infinity;
    if (this.i >= count) return null;
    let upTo = Math.min(count, this.i + Math.max(1, Math.floor(max / this.sensors.length)));
    if (this.paced) {
      // Reading k is due at wallStart + k·interval/speed.
      const wait = this.wallStart + (this.i * this.interval) / this.speed - Date.now();
      if (wait > 0) await sleep(Math.ceil(wait));
      const due = Math.floor(((Date.now() - this.wallStart) * this.speed) / this.interval) + 1;
      upTo = Math.min(upTo, Math.max(this.i + 1, due));
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
