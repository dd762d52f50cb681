import type { Message } from '../message.js';
import type { DeviceDelay } from './device-watermark.js';

/**
 * How a source's clock advances. The clock is a promise: "no record older than this will come
 * from me". A record that breaks the promise is late and goes to the late-data output.
 */
export interface WatermarkStrategy {
  /** The current clock; -Infinity before the first record. */
  current(): number;
  /** Account for an accepted (non-late) record. */
  observe(ts: number): void;
}

/** Serialisable description, carried in a source spec. */
export interface WatermarkSpec {
  /** Bounded out-of-orderness: clock = max timestamp seen - maxDelayMs. 0 = in-order input. */
  readonly maxDelayMs: number;
  /**
   * A source carrying many devices, each in (nearly) event-time order: a clock per device, the
   * source's clock being the minimum over the active devices (see DeviceWatermark). The device of
   * a record is `deviceOf(record)`, or its message key (as a string) without it.
   */
  readonly perDevice?: boolean;
  /** The device a record comes from (implies perDevice). */
  readonly deviceOf?: (record: Message) => string;
  /** Per-device allowed delay (a map or a function of the device id); default maxDelayMs. */
  readonly deviceDelayMs?: DeviceDelay;
}

/** Whether a source keeps a clock per device. */
export function isPerDevice(spec: WatermarkSpec): boolean {
  return spec.perDevice === true || typeof spec.deviceOf === 'function';
}

/**
 * Bounded out-of-orderness (Gearpump/Flink style): records may arrive up to maxDelayMs behind
 * the newest one seen. Kept allocation-free: it sits on the source's per-record path.
 */
export class BoundedDelayWatermark implements WatermarkStrategy {
  private maxSeen = -Infinity;
  constructor(private readonly maxDelayMs: number) {
    if (!(maxDelayMs >= 0) || !Number.isFinite(maxDelayMs)) {
      throw new TypeError(`maxDelayMs must be a finite number >= 0, got ${maxDelayMs}`);
    }
  }
  current(): number {
    return this.maxSeen - this.maxDelayMs;
  }
  observe(ts: number): void {
    if (ts > this.maxSeen) this.maxSeen = ts;
  }
}

export function createWatermark(spec: WatermarkSpec): WatermarkStrategy {
  return new BoundedDelayWatermark(spec.maxDelayMs);
}
