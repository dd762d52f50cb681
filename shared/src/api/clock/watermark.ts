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
