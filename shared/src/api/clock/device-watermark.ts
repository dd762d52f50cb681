/** Per-device allowed delay: a map by device id, or a function of it; absent: the source's maxDelayMs. */
export type DeviceDelay = Readonly<Record<string, number>> | ((device: string) => number);

/** Plain data (CBOR-encodable): the per-device clock state, carried in the source's checkpoint. */
export interface DeviceClockState {
  /** The source clock (never moves backwards). */
  clock: number;
  /** Newest on-time timestamp of any device. */
  maxSeen: number;
  /** [device, newest on-time timestamp], devices still able to hold the clock back. */
  devices: [string, number][];
}

/** One device holding the source's clock back: its own clock (newest ts minus its delay). */
export interface DeviceLag {
  device: string;
  newestTs: number;
  clock: number;
}

/**
 * The clock of a source carrying many devices, each publishing in (nearly) event-time order: a
 * clock per device (its newest timestamp minus its allowed delay), and the source's clock the
 * minimum over the ACTIVE devices, never moving backwards. SourceTaskRunner calls offer() for
 * each record, in the replay log's order, and sends the record to the late output when it returns
 * false.
 *
 * - A record is late when its timestamp is behind the source clock (it breaks the promise made
 *   downstream); it still counts for its device's clock.
 * - A device's first record sets its clock. A new device starting behind the source clock holds
 *   the clock where it is (it never moves backwards) until it catches up: its records behind the
 *   clock are late (counted), the ones from the clock on are on time, and from then on the clock
 *   follows it like any other device. (So a device is late for as long as it is behind where the
 *   clock was when it appeared, not for ever.) A device more than the idle timeout behind the
 *   newest timestamp does not hold the clock at all (below).
 * - Idleness is measured in EVENT time, so that a recovery replay, which sees the same records in
 *   the same order, decides exactly as the first run did (wall-clock silence is not replayable): a
 *   device is inactive once another device's newest timestamp is more than `idleMs` past its own.
 *   It then stops holding the clock back; what it sends later behind the clock is late. `idleMs`
 *   0 = no device ever goes inactive.
 * - Inactive devices are forgotten once they reach the top of the heap (bounded state): forgetting
 *   one decides exactly as keeping it would, since a device's old newest timestamp only matters
 *   while it is active, and it becomes active again only with a newer record.
 *
 * Per record: one Map lookup and, when the device's clock moves, a sift in a binary min-heap of
 * the devices by clock (O(log devices)); no allocation once a device is known (typed arrays).
 */
export class DeviceWatermark {
  private index = new Map<string, number>();
  private names: string[] = [];
  private newest = new Float64Array(16);
  private delays = new Float64Array(16);
  private heapPos = new Int32Array(16);
  /** Min-heap of slots by their clock (newest - delay). */
  private heap = new Int32Array(16);
  private size = 0;
  private free: number[] = [];
  private maxSeen = -Infinity;
  private clock = -Infinity;
  private readonly idleMs: number;

  constructor(private readonly maxDelayMs: number, idleMs: number, private readonly delayOf?: DeviceDelay) {
    if (!(maxDelayMs >= 0) || !Number.isFinite(maxDelayMs)) throw new TypeError(`maxDelayMs must be a finite number >= 0, got ${maxDelayMs}`);
    this.idleMs = idleMs > 0 ? idleMs : Infinity;
  }

  current(): number {
    return this.clock;
  }

  /** Judges one record of `device` with timestamp `ts`: true = on time, false = late. Both count for the device's clock. */
  offer(device: string, ts: number): boolean {
    const onTime = ts >= this.clock;
    const s = this.index.get(device);
    if (s === undefined) {
      this.add(device, ts);
    } else if (ts > this.newest[s]) {
      this.newest[s] = ts;
      this.siftDown(this.heapPos[s]);
    }
    if (ts > this.maxSeen) this.maxSeen = ts;
    this.settle();
    return onTime;
  }

  /**
   * The `n` active devices holding the clock back the most (lowest own clock first, then by id):
   * for reports (every task report, once a second), not per record. A selection over the known
   * devices that allocates only the `n` results: sorting every device of a large fleet into
   * objects took milliseconds of the agent's event loop with each report.
   */
  laggards(n: number): DeviceLag[] {
    const picked: number[] = [];
    if (n <= 0) return [];
    const clockOf = (s: number) => this.newest[s] - this.delays[s];
    const before = (a: number, b: number) => {
      const ca = clockOf(a);
      const cb = clockOf(b);
      return ca < cb || (ca === cb && this.names[a] < this.names[b]);
    };
    for (const s of this.index.values()) {
      if (this.maxSeen - this.newest[s] > this.idleMs) continue;
      if (picked.length === n && !before(s, picked[n - 1])) continue;
      let i = picked.length === n ? n - 1 : picked.length;
      for (; i > 0 && before(s, picked[i - 1]); i--) picked[i] = picked[i - 1];
      picked[i] = s;
    }
    return picked.map((s) => ({ device: this.names[s], newestTs: this.newest[s], clock: clockOf(s) }));
  }

  /** Devices currently known (active, or inactive and not yet forgotten). */
  get deviceCount(): number {
    return this.index.size;
  }

  snapshot(): DeviceClockState {
    const devices: [string, number][] = [];
    for (const [device, s] of this.index) devices.push([device, this.newest[s]]);
    return { clock: this.clock, maxSeen: this.maxSeen, devices };
  }

  restore(state: DeviceClockState): void {
    this.index = new Map();
    this.names = [];
    this.free = [];
    this.size = 0;
    this.maxSeen = state.maxSeen;
    for (const [device, newest] of state.devices) this.add(device, newest);
    this.settle();
    this.clock = state.clock;
  }

  /** Forgets inactive devices at the top of the heap, then raises the clock to the top's. */
  private settle(): void {
    while (this.size > 0 && this.maxSeen - this.newest[this.heap[0]] > this.idleMs) this.removeTop();
    if (this.size === 0) return;
    const top = this.heap[0];
    const c = this.newest[top] - this.delays[top];
    if (c > this.clock) this.clock = c;
  }

  private add(device: string, ts: number): void {
    let s = this.free.pop();
    if (s === undefined) {
      s = this.names.length;
      this.names.push(device);
      if (s >= this.newest.length) this.grow();
    } else {
      this.names[s] = device;
    }
    this.index.set(device, s);
    this.newest[s] = ts;
    this.delays[s] = this.delay(device);
    const i = this.size++;
    this.heap[i] = s;
    this.heapPos[s] = i;
    this.siftUp(i);
  }

  private removeTop(): void {
    const s = this.heap[0];
    this.index.delete(this.names[s]);
    this.names[s] = '';
    this.free.push(s);
    const last = this.heap[--this.size];
    if (this.size > 0) {
      this.heap[0] = last;
      this.heapPos[last] = 0;
      this.siftDown(0);
    }
  }

  private key(s: number): number {
    return this.newest[s] - this.delays[s];
  }

  private siftUp(i: number): void {
    const h = this.heap;
    const s = h[i];
    const k = this.key(s);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (this.key(h[parent]) <= k) break;
      h[i] = h[parent];
      this.heapPos[h[i]] = i;
      i = parent;
    }
    h[i] = s;
    this.heapPos[s] = i;
  }

  private siftDown(i: number): void {
    const h = this.heap;
    const n = this.size;
    const s = h[i];
    const k = this.key(s);
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && this.key(h[r]) < this.key(h[l]) ? r : l;
      if (this.key(h[c]) >= k) break;
      h[i] = h[c];
      this.heapPos[h[i]] = i;
      i = c;
    }
    h[i] = s;
    this.heapPos[s] = i;
  }

  private grow(): void {
    const n = this.newest.length * 2;
    const f = (a: Float64Array) => {
      const b = new Float64Array(n);
      b.set(a);
      return b;
    };
    const g = (a: Int32Array) => {
      const b = new Int32Array(n);
      b.set(a);
      return b;
    };
    this.newest = f(this.newest);
    this.delays = f(this.delays);
    this.heapPos = g(this.heapPos);
    this.heap = g(this.heap);
  }

  private delay(device: string): number {
    const d = this.delayOf;
    if (d === undefined) return this.maxDelayMs;
    const x = typeof d === 'function' ? d(device) : d[device];
    const v = x === undefined ? this.maxDelayMs : x;
    if (!(v >= 0) || !Number.isFinite(v)) throw new TypeError(`delay of device ${device} must be a finite number >= 0, got ${v}`);
    return v;
  }
}
