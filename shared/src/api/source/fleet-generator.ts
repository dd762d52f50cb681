import type { Message } from '../message.js';
import { hashKey } from '../partitioner/hash-partitioner.js';

/**
 * The core of the device-fleet simulator: a pure, synchronous, seeded generator shared by the
 * `fleet` source (shared/src/source/fleet-source.ts), `fleetPlan` (simulators/src/fleet-plan.ts,
 * expected answers for tests and benchmarks) and the third-party MQTT devices of the simulators.
 *
 * The stream it defines, and why it is deterministic and resumable:
 *
 * - Event time advances in ticks. Tick i is at T(i) = startTs + offset(i): every 1000/rateHz ms,
 *   or `factor` times as often in the last `durationMs` of every `everyMs` with `bursts`. At every
 *   tick each device takes one reading per sensor. Every field of a record is a pure function of
 *   (seed, device id, sensor, tick), through a counter-based hash rather than a sequential PRNG;
 *   the only running state is the random walk, a moving sum of the last WALK_WINDOW integer steps,
 *   which is exact in any order of evaluation and rebuilt from WALK_WINDOW steps on resume.
 * - Each record has a delivery time: T(i) plus an out-of-order delay drawn in [0, maxOutOfOrderMs],
 *   moved to the end of a disconnect when it falls inside one (the backlog). Records are delivered
 *   sorted by (delivery time, generation index), where generation index = tick·D·S + device·S +
 *   sensor. So the order is a property of the record set, not of how reads are batched.
 * - The position after a record is its sort key. Resuming regenerates the few ticks whose records
 *   may still be pending (the last maxOutOfOrderMs, plus open disconnects) and keeps those after it.
 */

export type FleetModel = 'sine' | 'random-walk';

export interface FleetBursts {
  /** Period of the bursts, ms of event time. */
  everyMs: number;
  /** The last `durationMs` of every period is a burst (0 < durationMs < everyMs). */
  durationMs: number;
  /** Rate multiplier during a burst (> 0; below 1 makes it a lull). */
  factor: number;
}

export interface FleetDisconnect {
  /** Start of the outage, ms of event time after `startTs`. */
  atMs: number;
  /** Length of the outage, ms (> 0). Reconnect is at startTs + atMs + durationMs. */
  durationMs: number;
  /** Devices affected, by id or by index (ids of other nodes are ignored). */
  devices?: readonly (string | number)[];
  /** Or a share of the fleet, 0..1: round(share · devices), picked deterministically from the seed. */
  fraction?: number;
}

export interface FleetOptions {
  /** Number of devices (ids `${nodeId}-d${i}`) or explicit ids. Default 10. */
  devices?: number | readonly string[];
  /** Sensor names; each device reads all of them at every tick. Default ['temperature']. */
  sensors?: readonly string[];
  /** Readings per second per device and sensor (event-time spacing 1000/rateHz ms). Default 1. */
  rateHz?: number;
  /** Ticks per device (records per device = count · sensors); unbounded when absent. */
  count?: number;
  /** Event time of the first tick (default: the wall clock when the source opens). */
  startTs?: number;
  /** Seed; each device and sensor mixes in its own id. Default 1. */
  seed?: number;
  /** Emit in step with the wall clock. Default: true when unbounded, false with `count`. */
  paced?: boolean;
  /** 'sine' (default): 20 + 5·sin(2π·t/60 s + phase) ± 0.5 noise; 'random-walk': 20 + a walk. */
  model?: FleetModel;
  /** Share of readings that are spikes (+30), 0..1. Default 0. */
  spikes?: number;
  /** Pad each value with a `pad` string so that its JSON reaches this many bytes. */
  payloadBytes?: number;
  /** Constant clock skew per device, drawn in [-clockSkewMs, +clockSkewMs], added to ts. */
  clockSkewMs?: number;
  /** A record may be delivered up to this many ms of event time after later ones. Default 0. */
  maxOutOfOrderMs?: number;
  bursts?: FleetBursts;
  disconnects?: readonly FleetDisconnect[];
  /**
   * The source's watermark delay. Default 2·clockSkewMs + maxOutOfOrderMs, which makes no record
   * late except disconnect backlogs (late by up to the outage); raise it to cover those too.
   */
  maxDelayMs?: number;
}

export interface FleetReading {
  ts: number;
  device: string;
  sensor: string;
  value: number;
  /** Per-device record number: tick · sensors + sensor index. (device, seq) is unique. */
  seq: number;
  pad?: string;
}

/** Where a fleet stands: plain data, stored with each batch in the replay log. */
export interface FleetPosition {
  v: 1;
  startTs: number;
  /** Records per tick of this task (devices · sensors): a resume with other options is refused. */
  perTick: number;
  /** Sort key [delivery time, generation index] of the last record delivered; null before any. */
  last: [number, number] | null;
}

/** Where a generator runs: the node and task it plays the devices of. */
export interface FleetPlacement {
  nodeId: string;
  taskIndex?: number;
  parallelism?: number;
  /** Resolved event time of tick 0. */
  startTs: number;
}

/** Steps remembered by the random walk: it wanders like a walk over shorter spans, stays bounded. */
export const WALK_WINDOW = 1024;
const WALK_STEP = 25; // hundredths: steps in [-0.25, +0.25]
const SINE_PERIOD_MS = 60_000;
// Salts of the counter-based hash, one per use, so draws are independent.
const NOISE = 1, SPIKE = 2, STEP = 3, DELAY = 4, SKEW = 5, PHASE = 6, PICK = 7, SEED = 8;

/** Counter-based hash (murmur3 mixing): a uniform uint32 for (seed, i, salt), i < 2^53. */
export function fleetHash(seed: number, i: number, salt: number): number {
  let h = (seed ^ Math.imul(salt, 0x9e3779b1)) | 0;
  h = Math.imul(h ^ (i | 0), 0xcc9e2d51);
  h = (h << 15) | (h >>> 17);
  h = Math.imul(h ^ ((i / 4294967296) | 0), 0x1b873593);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

const u01 = (seed: number, i: number, salt: number): number => fleetHash(seed, i, salt) / 4294967296;

/** Validates options (TypeError on a mistake); called by `fleet()` and by every generator. */
export function checkFleetOptions(o: FleetOptions, where = 'fleet(options)'): void {
  if (typeof o !== 'object' || o === null) throw new TypeError(`${where}: options must be an object`);
  const int = (v: unknown, name: string, min: number) => {
    if (v !== undefined && !(Number.isSafeInteger(v) && (v as number) >= min)) throw new TypeError(`${where}: ${name} must be an integer >= ${min}`);
  };
  const share = (v: unknown, name: string) => {
    if (v !== undefined && !(typeof v === 'number' && v >= 0 && v <= 1)) throw new TypeError(`${where}: ${name} must be a number in 0..1`);
  };
  const names = (v: unknown, name: string) => {
    if (!Array.isArray(v) || v.length === 0 || !v.every((s) => typeof s === 'string' && s.length > 0) || new Set(v).size !== v.length) {
      throw new TypeError(`${where}: ${name} must be a non-empty array of distinct non-empty strings`);
    }
  };
  if (typeof o.devices === 'number') int(o.devices, 'devices', 1);
  else if (o.devices !== undefined) names(o.devices, 'devices');
  if (o.sensors !== undefined) names(o.sensors, 'sensors');
  if (o.rateHz !== undefined && !(typeof o.rateHz === 'number' && o.rateHz > 0 && Number.isFinite(o.rateHz))) throw new TypeError(`${where}: rateHz must be a finite number > 0`);
  int(o.count, 'count', 0);
  if (o.startTs !== undefined && !Number.isSafeInteger(o.startTs)) throw new TypeError(`${where}: startTs must be an integer (epoch ms)`);
  if (o.seed !== undefined && !Number.isInteger(o.seed)) throw new TypeError(`${where}: seed must be an integer`);
  if (o.paced !== undefined && typeof o.paced !== 'boolean') throw new TypeError(`${where}: paced must be a boolean`);
  if (o.model !== undefined && o.model !== 'sine' && o.model !== 'random-walk') throw new TypeError(`${where}: model must be 'sine' or 'random-walk'`);
  share(o.spikes, 'spikes');
  int(o.payloadBytes, 'payloadBytes', 0);
  int(o.clockSkewMs, 'clockSkewMs', 0);
  int(o.maxOutOfOrderMs, 'maxOutOfOrderMs', 0);
  int(o.maxDelayMs, 'maxDelayMs', 0);
  if (o.bursts !== undefined) {
    const b = o.bursts;
    int(b?.everyMs, 'bursts.everyMs', 2);
    int(b?.durationMs, 'bursts.durationMs', 1);
    if (!(b.durationMs < b.everyMs)) throw new TypeError(`${where}: bursts.durationMs must be less than bursts.everyMs`);
    if (!(typeof b.factor === 'number' && b.factor > 0 && Number.isFinite(b.factor))) throw new TypeError(`${where}: bursts.factor must be a finite number > 0`);
  }
  if (o.disconnects !== undefined) {
    if (!Array.isArray(o.disconnects)) throw new TypeError(`${where}: disconnects must be an array`);
    const n = typeof o.devices === 'number' ? o.devices : (o.devices?.length ?? 10);
    o.disconnects.forEach((x: FleetDisconnect, k) => {
      if (!Number.isSafeInteger(x?.atMs)) throw new TypeError(`${where}: disconnects[${k}].atMs must be an integer`);
      int(x.durationMs, `disconnects[${k}].durationMs`, 1);
      share(x.fraction, `disconnects[${k}].fraction`);
      if ((x.devices === undefined) === (x.fraction === undefined)) throw new TypeError(`${where}: disconnects[${k}] needs either devices or fraction`);
      if (x.devices !== undefined && (!Array.isArray(x.devices) || !x.devices.every((d) => (typeof d === 'string' && d.length > 0) || (Number.isSafeInteger(d) && d >= 0 && d < n)))) {
        throw new TypeError(`${where}: disconnects[${k}].devices must list device ids or indexes below ${n}`);
      }
    });
  }
}

/** The watermark delay a fleet declares: see `FleetOptions.maxDelayMs`. */
export function fleetMaxDelayMs(o: FleetOptions): number {
  return o.maxDelayMs ?? 2 * (o.clockSkewMs ?? 0) + (o.maxOutOfOrderMs ?? 0);
}

/** Event time of tick i, relative to startTs: a pure, non-decreasing function of i. */
class TickClock {
  private readonly n1: number;
  private readonly perPeriod: number;
  constructor(private readonly rateHz: number, private readonly bursts: FleetBursts | undefined) {
    this.n1 = bursts ? Math.ceil(((bursts.everyMs - bursts.durationMs) * rateHz) / 1000) : 0;
    this.perPeriod = bursts ? this.n1 + Math.ceil((bursts.durationMs * rateHz * bursts.factor) / 1000) : 0;
  }
  offset(i: number): number {
    const b = this.bursts;
    if (!b) return Math.floor((i * 1000) / this.rateHz);
    const k = Math.floor(i / this.perPeriod);
    const r = i - k * this.perPeriod;
    const within = r < this.n1 ? Math.floor((r * 1000) / this.rateHz) : b.everyMs - b.durationMs + Math.floor(((r - this.n1) * 1000) / (this.rateHz * b.factor));
    return k * b.everyMs + within;
  }
  /** Smallest tick i >= 0 with offset(i) >= x (or > x when `strict`). */
  firstAtOrAfter(x: number, strict = false): number {
    const ok = (i: number) => (strict ? this.offset(i) > x : this.offset(i) >= x);
    if (ok(0)) return 0;
    let hi = 1;
    while (!ok(hi)) hi *= 2;
    let lo = hi / 2; // !ok(lo)
    while (hi - lo > 1) {
      const mid = Math.floor((lo + hi) / 2);
      if (ok(mid)) hi = mid;
      else lo = mid;
    }
    return hi;
  }
}

/**
 * Pending records ordered by (delivery time, generation index): a binary heap over parallel
 * arrays, so that holding a record costs no allocation beyond the record itself.
 */
class PendingHeap<T> {
  private keys = new Float64Array(1024);
  private gens = new Float64Array(1024);
  private items: (T | undefined)[] = [];
  size = 0;
  minKey(): number {
    return this.keys[0];
  }
  private less(a: number, b: number): boolean {
    return this.keys[a] < this.keys[b] || (this.keys[a] === this.keys[b] && this.gens[a] < this.gens[b]);
  }
  private swap(a: number, b: number): void {
    const k = this.keys[a], g = this.gens[a], it = this.items[a];
    this.keys[a] = this.keys[b]; this.gens[a] = this.gens[b]; this.items[a] = this.items[b];
    this.keys[b] = k; this.gens[b] = g; this.items[b] = it;
  }
  push(key: number, gen: number, item: T): void {
    if (this.size === this.keys.length) {
      const keys = new Float64Array(this.size * 2), gens = new Float64Array(this.size * 2);
      keys.set(this.keys); gens.set(this.gens);
      this.keys = keys; this.gens = gens;
    }
    let i = this.size++;
    this.keys[i] = key; this.gens[i] = gen; this.items[i] = item;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(i, p)) break;
      this.swap(i, p);
      i = p;
    }
  }
  /** Removes the smallest; its key and generation index are left in `lastKey` / `lastGen`. */
  lastKey = 0;
  lastGen = 0;
  pop(): T {
    const top = this.items[0] as T;
    this.lastKey = this.keys[0];
    this.lastGen = this.gens[0];
    const n = --this.size;
    this.swap(0, n);
    this.items[n] = undefined;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1, r = l + 1;
      let m = i;
      if (l < n && this.less(l, m)) m = l;
      if (r < n && this.less(r, m)) m = r;
      if (m === i) break;
      this.swap(i, m);
      i = m;
    }
    return top;
  }
}

/** Length of the JSON text of an integer. */
function intLen(n: number): number {
  let len = n < 0 ? 2 : 1;
  for (let a = Math.abs(n); a >= 10; a = Math.floor(a / 10)) len++;
  return len;
}

/** Length of the JSON text of `c / 100` for an integer number of hundredths `c`. */
function centsLen(c: number): number {
  const a = Math.abs(c);
  const frac = a % 100;
  return (c < 0 ? 1 : 0) + intLen(Math.floor(a / 100)) + (frac === 0 ? 0 : frac % 10 === 0 ? 2 : 3);
}

/**
 * Plays the devices of one task. Call fill() to take records in delivery order; position() after
 * it tells where the stream stands, and `new FleetGenerator(..., position)` continues from there.
 */
export class FleetGenerator {
  readonly startTs: number;
  readonly devices: readonly string[];
  readonly sensors: readonly string[];
  private readonly o: FleetOptions;
  private readonly count: number;
  private readonly clock: TickClock;
  private readonly perTick: number;
  private readonly maxOoo: number;
  private readonly skew: Int32Array;
  /** Per device: sorted, disjoint [start, end) outages as absolute event times, or null. */
  private readonly outages: (number[] | null)[];
  private readonly seeds: Int32Array; // per device·sensor
  private readonly phases: Float64Array;
  private readonly walk: Int32Array;
  private readonly padBase: Int32Array;
  private readonly pads: string[] = [];
  private readonly direct: boolean;
  private readonly heap = new PendingHeap<Message<FleetReading>>();
  /** Next tick to generate, and (direct mode) next device·sensor within it. */
  private tick = 0;
  private cursor = 0;
  /** Sort key of the last record delivered (lastGen -1: none yet). */
  private lastKey = 0;
  private lastGen = -1;

  constructor(options: FleetOptions, placement: FleetPlacement, resumeFrom?: FleetPosition) {
    checkFleetOptions(options);
    this.o = options;
    const seed = options.seed ?? 1;
    const p = placement.parallelism ?? 1, t = placement.taskIndex ?? 0;
    const all = typeof options.devices === 'object' ? [...options.devices] : Array.from({ length: options.devices ?? 10 }, (_, i) => `${placement.nodeId}-d${i}`);
    const mine = all.map((_, i) => i).filter((i) => i % p === t);
    this.devices = mine.map((i) => all[i]);
    this.sensors = options.sensors ?? ['temperature'];
    this.startTs = resumeFrom?.startTs ?? placement.startTs;
    this.count = options.count ?? Infinity;
    this.clock = new TickClock(options.rateHz ?? 1, options.bursts);
    const S = this.sensors.length;
    this.perTick = this.devices.length * S;
    this.maxOoo = options.maxOutOfOrderMs ?? 0;
    const devSeed = all.map((id) => fleetHash(hashKey(id), seed, SEED) | 0);
    const K = options.clockSkewMs ?? 0;
    this.skew = Int32Array.from(mine, (i) => (K === 0 ? 0 : (fleetHash(devSeed[i], 0, SKEW) % (2 * K + 1)) - K));
    this.outages = this.planOutages(all, devSeed, mine);
    this.seeds = new Int32Array(this.perTick);
    this.phases = new Float64Array(this.perTick);
    this.walk = new Int32Array(this.perTick);
    this.padBase = new Int32Array(this.perTick);
    for (let d = 0, ds = 0; d < this.devices.length; d++) {
      for (let s = 0; s < S; s++, ds++) {
        this.seeds[ds] = fleetHash(hashKey(`${this.devices[d]}/${this.sensors[s]}`), seed, SEED) | 0;
        this.phases[ds] = u01(this.seeds[ds], 0, PHASE) * 2 * Math.PI;
        // JSON length of the value with ts, value and seq all "0" and an empty pad.
        this.padBase[ds] = JSON.stringify({ ts: 0, device: this.devices[d], sensor: this.sensors[s], value: 0, seq: 0, pad: '' }).length - 3;
      }
    }
    this.direct = this.maxOoo === 0 && this.outages.every((x) => x === null);
    if (resumeFrom) this.seek(resumeFrom);
  }

  private planOutages(all: string[], devSeed: number[], mine: number[]): (number[] | null)[] {
    const per: [number, number][][] = all.map(() => []);
    (this.o.disconnects ?? []).forEach((x, k) => {
      const start = this.startTs + x.atMs;
      let hit: number[];
      if (x.fraction !== undefined) {
        const ranked = all.map((_, i) => i).sort((a, b) => fleetHash(devSeed[a], k, PICK) - fleetHash(devSeed[b], k, PICK) || a - b);
        hit = ranked.slice(0, Math.round(x.fraction * all.length));
      } else {
        hit = x.devices!.map((d) => (typeof d === 'number' ? d : all.indexOf(d))).filter((i) => i >= 0);
      }
      for (const i of hit) per[i].push([start, start + x.durationMs]);
    });
    return mine.map((i) => {
      const spans = per[i].sort((a, b) => a[0] - b[0]);
      if (spans.length === 0) return null;
      const merged: number[] = [];
      for (const [a, b] of spans) {
        const n = merged.length;
        if (n > 0 && a <= merged[n - 1]) merged[n - 1] = Math.max(merged[n - 1], b);
        else merged.push(a, b);
      }
      return merged;
    });
  }

  /** True once every record has been delivered (bounded fleets only). */
  get ended(): boolean {
    return this.perTick === 0 || (this.tick >= this.count && this.heap.size === 0);
  }

  /** Event time of the next tick to generate (Infinity when none is left): for pacing. */
  nextTickTs(): number {
    return this.tick < this.count ? this.startTs + this.clock.offset(this.tick) : Infinity;
  }

  position(): FleetPosition {
    return { v: 1, startTs: this.startTs, perTick: this.perTick, last: this.lastGen < 0 ? null : [this.lastKey, this.lastGen] };
  }

  /**
   * Appends up to `max` records to `out` in delivery order, generating ticks at event times up to
   * `untilTs` (the wall clock of a paced source; Infinity otherwise). Returns how many it appended.
   */
  fill(out: Message<FleetReading>[], max: number, untilTs = Infinity): number {
    const before = out.length;
    const want = before + max;
    if (this.perTick === 0) return 0;
    if (this.direct) {
      while (out.length < want && this.tick < this.count) {
        const T = this.startTs + this.clock.offset(this.tick);
        if (this.cursor === 0 && T > untilTs) break;
        const end = Math.min(this.perTick, this.cursor + (want - out.length));
        this.emitRange(this.tick, T, this.cursor, end, out);
        this.lastKey = T;
        this.lastGen = this.tick * this.perTick + end - 1;
        this.cursor = end;
        if (end === this.perTick) {
          this.tick++;
          this.cursor = 0;
        }
      }
      return out.length - before;
    }
    const heap = this.heap;
    while (out.length < want) {
      // Invariant: every tick before `tick` is in the heap or delivered, and every later record
      // sorts after the heap's records with key <= T(tick): pop those, else generate a tick.
      const bound = this.tick < this.count ? this.startTs + this.clock.offset(this.tick) : Infinity;
      if (heap.size > 0 && heap.minKey() <= bound) {
        out.push(heap.pop());
        continue;
      }
      if (this.tick >= this.count || bound > untilTs) break;
      this.generateTick(this.tick++, -Infinity, -Infinity);
    }
    if (out.length > before) {
      this.lastKey = heap.lastKey;
      this.lastGen = heap.lastGen;
    }
    return out.length - before;
  }

  /** Direct mode (in-order, no outages): records cursor..end-1 of tick i straight to `out`. */
  private emitRange(i: number, T: number, from: number, to: number, out: Message<FleetReading>[]): void {
    const S = this.sensors.length;
    let d = Math.floor(from / S), s = from - d * S;
    let ts = T + this.skew[d];
    for (let ds = from; ds < to; ds++) {
      out.push(this.make(i, T, ts, d, s, ds));
      if (++s === S) {
        s = 0;
        ts = T + this.skew[++d];
      }
    }
  }

  /** Heap mode: pushes the records of tick i whose sort key is after (afterKey, afterGen). */
  private generateTick(i: number, afterKey: number, afterGen: number): void {
    const T = this.startTs + this.clock.offset(i);
    const S = this.sensors.length, M = this.maxOoo;
    let gen = i * this.perTick;
    for (let d = 0, ds = 0; d < this.devices.length; d++) {
      const ts = T + this.skew[d];
      const outage = this.outages[d];
      for (let s = 0; s < S; s++, ds++, gen++) {
        let key = M === 0 ? T : T + (fleetHash(this.seeds[ds], i, DELAY) % (M + 1));
        if (outage !== null) {
          for (let m = 0; m < outage.length; m += 2) {
            if (key >= outage[m] && key < outage[m + 1]) {
              key = outage[m + 1]; // held back: delivered with the backlog at reconnect
              break;
            }
          }
        }
        const msg = this.make(i, T, ts, d, s, ds); // always: it advances the walk
        if (key > afterKey || (key === afterKey && gen > afterGen)) this.heap.push(key, gen, msg);
      }
    }
  }

  /** One record. The only per-record allocation: the message and its value. */
  private make(i: number, T: number, ts: number, d: number, s: number, ds: number): Message<FleetReading> {
    const seed = this.seeds[ds];
    let v: number;
    if (this.o.model === 'random-walk') {
      let x = this.walk[ds] + (fleetHash(seed, i, STEP) % (2 * WALK_STEP + 1)) - WALK_STEP;
      if (i >= WALK_WINDOW) x -= (fleetHash(seed, i - WALK_WINDOW, STEP) % (2 * WALK_STEP + 1)) - WALK_STEP;
      this.walk[ds] = x;
      v = 20 + x / 100;
    } else {
      v = 20 + 5 * Math.sin(((T - this.startTs) * 2 * Math.PI) / SINE_PERIOD_MS + this.phases[ds]) + u01(seed, i, NOISE) - 0.5;
    }
    const spikes = this.o.spikes ?? 0;
    if (spikes > 0 && u01(seed, i, SPIKE) < spikes) v += 30;
    const cents = Math.round(v * 100);
    const seq = i * this.sensors.length + s;
    const size = this.o.payloadBytes;
    if (size === undefined) return { ts, value: { ts, device: this.devices[d], sensor: this.sensors[s], value: cents / 100, seq } };
    const padLen = Math.max(0, size - this.padBase[ds] - intLen(ts) - centsLen(cents) - intLen(seq));
    const pad = (this.pads[padLen] ??= 'x'.repeat(padLen));
    return { ts, value: { ts, device: this.devices[d], sensor: this.sensors[s], value: cents / 100, seq, pad } };
  }

  /** Sets the walk of device·sensor `ds` to its value after tick `through` (-1: before tick 0). */
  private initWalk(ds: number, through: number): void {
    let x = 0;
    for (let j = Math.max(0, through - WALK_WINDOW + 1); j <= through; j++) x += (fleetHash(this.seeds[ds], j, STEP) % (2 * WALK_STEP + 1)) - WALK_STEP;
    this.walk[ds] = x;
  }

  /** Puts the generator right after `p.last` (see the module comment). */
  private seek(p: FleetPosition): void {
    if (p?.v !== 1 || p.perTick !== this.perTick) {
      throw new TypeError(`fleet: cannot resume from ${JSON.stringify(p)}: it was written by a fleet with other options`);
    }
    if (p.last === null) return;
    const [key, gen] = p.last;
    this.lastKey = key;
    this.lastGen = gen;
    const walk = this.o.model === 'random-walk';
    if (this.direct) {
      const g = gen + 1;
      this.tick = Math.floor(g / this.perTick);
      this.cursor = g - this.tick * this.perTick;
      if (walk) for (let ds = 0; ds < this.perTick; ds++) this.initWalk(ds, ds < this.cursor ? this.tick : this.tick - 1);
      return;
    }
    const next = Math.min(this.count, this.clock.firstAtOrAfter(key - this.startTs, true));
    // Records still pending: from the last maxOutOfOrderMs, and held by outages not yet over.
    let lo = key - this.maxOoo;
    for (const outage of this.outages) {
      for (let m = 0; outage !== null && m < outage.length; m += 2) if (outage[m + 1] >= key) lo = Math.min(lo, outage[m] - this.maxOoo);
    }
    const from = Math.min(next, this.clock.firstAtOrAfter(lo - this.startTs));
    if (walk) for (let ds = 0; ds < this.perTick; ds++) this.initWalk(ds, from - 1);
    for (let j = from; j < next; j++) this.generateTick(j, key, gen);
    this.tick = next;
  }
}
