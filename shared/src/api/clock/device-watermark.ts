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
 * clock per device (its newest on-time timestamp minus its allowed delay), and the source's clock
 * the minimum over the ACTIVE devices, never moving backwards. SourceTaskRunner calls offer() for
 * each record, in the replay log's order, and sends the record to the late output when it returns
 * false.
 *
 * - A record is late when its timestamp is behind the source clock (it breaks the promise made
 *   downstream). A late record changes no state.
 * - A device's first record sets its clock. A new device starting behind the source clock: its
 *   records behind the clock are late (counted) until it catches up; it never pulls the clock back.
 * - Idleness is measured in EVENT time, so that a recovery replay, which sees the same records in
 *   the same order, decides exactly as the first run did (wall-clock silence is not replayable): a
 *   device is inactive once another device's newest timestamp is more than `idleMs` past its own.
 *   It then stops holding the clock back; what it sends later behind the clock is late. `idleMs`
 *   0 = no device ever goes inactive.
 * - Inactive devices are forgotten (bounded state): forgetting one decides exactly as keeping it
 *   would, since a device's old newest timestamp only matters while it is active, and it becomes
 *   active again only with a newer record.
 *
 * Cost per record: one Map lookup; a scan over the devices only when the device holding the
 * clock back moves on or goes inactive (round-robin devices: amortised O(1)). No allocation per
 * record once a device is known.
 */
export class DeviceWatermark {
  private newest = new Map<string, number>();
  private maxSeen = -Infinity;
  private clock = -Infinity;
  /** The device with the lowest clock among the active ones, and that clock. */
  private holder: string | null = null;
  private holderClock = Infinity;
  private readonly idleMs: number;
  private readonly delays = new Map<string, number>();

  constructor(private readonly maxDelayMs: number, idleMs: number, private readonly delayOf?: DeviceDelay) {
    if (!(maxDelayMs >= 0) || !Number.isFinite(maxDelayMs)) throw new TypeError(`maxDelayMs must be a finite number >= 0, got ${maxDelayMs}`);
    this.idleMs = idleMs > 0 ? idleMs : Infinity;
  }

  current(): number {
    return this.clock;
  }

  /** Judges one record of `device` with timestamp `ts`: true = on time (state updated), false = late. */
  offer(device: string, ts: number): boolean {
    if (ts < this.clock) return false;
    const old = this.newest.get(device);
    if (old === undefined || ts > old) this.newest.set(device, ts);
    const n = old === undefined || ts > old ? ts : old;
    if (ts > this.maxSeen) this.maxSeen = ts;
    if (device === this.holder) {
      if (n !== old) this.rescan();
    } else {
      const c = n - this.delay(device);
      if (this.maxSeen - n <= this.idleMs && c < this.holderClock) {
        this.holder = device;
        this.holderClock = c;
      }
      // The holder may have gone inactive as the newest timestamp moved on.
      if (this.holder !== null && this.maxSeen - this.newest.get(this.holder)! > this.idleMs) this.rescan();
    }
    if (this.holderClock > this.clock && this.holderClock !== Infinity) this.clock = this.holderClock;
    return true;
  }

  /** The devices holding the clock back the most (lowest own clock first): for reports, not per record. */
  laggards(n: number): DeviceLag[] {
    const out: DeviceLag[] = [];
    for (const [device, newestTs] of this.newest) {
      if (this.maxSeen - newestTs > this.idleMs) continue;
      out.push({ device, newestTs, clock: newestTs - this.delay(device) });
    }
    return out.sort((a, b) => a.clock - b.clock || (a.device < b.device ? -1 : 1)).slice(0, n);
  }

  /** Devices currently known (active or not yet pruned). */
  get deviceCount(): number {
    return this.newest.size;
  }

  snapshot(): DeviceClockState {
    return { clock: this.clock, maxSeen: this.maxSeen, devices: [...this.newest] };
  }

  restore(s: DeviceClockState): void {
    this.clock = s.clock;
    this.maxSeen = s.maxSeen;
    this.newest = new Map(s.devices);
    this.rescan();
  }

  /** Recomputes the holder over the active devices, forgetting the inactive ones. */
  private rescan(): void {
    let holder: string | null = null;
    let min = Infinity;
    for (const [device, n] of this.newest) {
      if (this.maxSeen - n > this.idleMs) {
        this.newest.delete(device);
        this.delays.delete(device);
        continue;
      }
      const c = n - this.delay(device);
      if (c < min) {
        min = c;
        holder = device;
      }
    }
    this.holder = holder;
    this.holderClock = min;
  }

  private delay(device: string): number {
    const d = this.delayOf;
    if (d === undefined) return this.maxDelayMs;
    let v = this.delays.get(device);
    if (v === undefined) {
      const x = typeof d === 'function' ? d(device) : d[device];
      v = x === undefined ? this.maxDelayMs : x;
      if (!(v >= 0) || !Number.isFinite(v)) throw new TypeError(`delay of device ${device} must be a finite number >= 0, got ${v}`);
      this.delays.set(device, v);
    }
    return v;
  }
}
