import type { Message } from '../api/message.js';
import { isEventTime } from '../api/message.js';
import { createWatermark, isPerDevice, type WatermarkSpec, type WatermarkStrategy } from '../api/clock/watermark.js';
import { DeviceWatermark, type DeviceClockState, type DeviceLag } from '../api/clock/device-watermark.js';

/**
 * Device entries kept over all saved states. A clock held back for long (a silent device with no
 * idle timeout) while the newest timestamp moves on saves a state per checkpoint interval; past
 * this budget every other saved state is dropped (the first and last kept). A checkpoint whose
 * state was dropped carries none: a replay from it starts the devices afresh (logged).
 */
const GRID_DEVICE_BUDGET = 1_000_000;

/** The clock state saved just before a batch that moved the newest timestamp past checkpoint times. */
interface GridState {
  /** Newest timestamp before the batch (exclusive) ... */
  above: number;
  /** ... and after it (inclusive): every checkpoint time in (above, upTo] replays from this batch. */
  upTo: number;
  state: DeviceClockState;
}

/**
 * A source's clock, for SourceTaskRunner: one watermark (BoundedDelayWatermark), or a clock per
 * device (DeviceWatermark) when the source declares a device key (WatermarkSpec.perDevice /
 * deviceOf). judge() decides on time versus late for each record, in the replay log's order.
 *
 * Replay. A restart from checkpoint t replays the log from the first batch after which the newest
 * timestamp reached t (ReplayLog.replayStart). The single watermark is rebuilt from the newest
 * timestamp before that batch (maxTsBefore). The per-device state cannot be rebuilt from one
 * number, so it goes into the checkpoint: before each batch that moves the newest timestamp past
 * checkpoint times, the state is copied (once per checkpoint interval, not per record); checkpoint
 * t carries the copy made before the batch the replay of t starts with. Restored, the replay sees
 * the same records in the same order from the same state, and decides exactly as the first run did
 * (idleness is measured in event time for that reason, see DeviceWatermark).
 */
export class SourceClock {
  private readonly single: WatermarkStrategy | null;
  readonly devices: DeviceWatermark | null;
  private readonly deviceOf: ((msg: Message) => string) | null;
  private readonly grid: GridState[] = [];
  private newestTs = -Infinity;
  private restored = false;

  constructor(spec: WatermarkSpec, idleTimeoutMs: number, private readonly checkpointIntervalMs: number) {
    if (isPerDevice(spec)) {
      this.single = null;
      this.devices = new DeviceWatermark(spec.maxDelayMs, idleTimeoutMs, spec.deviceDelayMs);
      this.deviceOf = spec.deviceOf ?? ((m) => String(m.key));
    } else {
      this.single = createWatermark(spec);
      this.devices = null;
      this.deviceOf = null;
    }
  }

  current(): number {
    return this.single ? this.single.current() : this.devices!.current();
  }

  /** Whether a record with a valid timestamp is on time (its clock state is then updated). */
  judge(msg: Message): boolean {
    const single = this.single;
    if (single) {
      if (msg.ts < single.current()) return false;
      single.observe(msg.ts);
      return true;
    }
    return this.devices!.offer(this.deviceOf!(msg), msg.ts);
  }

  /** Before a batch is judged: keeps the state a replay from a checkpoint time it passes starts with. */
  beforeBatch(records: readonly Message[]): void {
    if (!this.devices) return;
    let max = this.newestTs;
    for (let i = 0; i < records.length; i++) {
      const ts = records[i].ts;
      if (isEventTime(ts) && ts > max) max = ts;
    }
    const interval = this.checkpointIntervalMs;
    if (max > this.newestTs && interval > 0 && Math.floor(max / interval) > Math.floor(this.newestTs / interval)) {
      this.grid.push({ above: this.newestTs, upTo: max, state: this.devices.snapshot() });
      this.thin();
    }
    this.newestTs = max;
  }

  /** Drops every other saved state (first and last kept) while they hold more than the budget. */
  private thin(): void {
    const g = this.grid;
    const perState = Math.max(1, this.devices!.deviceCount);
    while (g.length > 2 && g.length * perState > GRID_DEVICE_BUDGET) {
      for (let i = g.length - 2; i >= 1; i -= 2) g.splice(i, 1);
    }
  }

  /** The clock state for checkpoint t (null without a clock per device). */
  snapshotFor(t: number): DeviceClockState | null {
    if (!this.devices) return null;
    while (this.grid.length > 0 && this.grid[0].upTo < t) this.grid.shift();
    const g = this.grid[0];
    return g && g.above < t ? g.state : null;
  }

  /** After a restart from a checkpoint: its clock state. */
  restore(state: DeviceClockState | null | undefined): void {
    if (!this.devices || !state) return;
    this.devices.restore(state);
    this.newestTs = state.maxSeen;
    this.restored = true;
  }

  /** After a restart: the newest timestamp the log held before the replay's first record. */
  restoreNewest(maxTsBefore: number): void {
    if (maxTsBefore === -Infinity) return;
    if (this.single) this.single.observe(maxTsBefore);
    else if (!this.restored) this.newestTs = Math.max(this.newestTs, maxTsBefore);
  }

  laggards(n: number): DeviceLag[] {
    return this.devices ? this.devices.laggards(n) : [];
  }
}
