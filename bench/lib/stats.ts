/** Small statistics helpers for benchmark samples. */

export interface Spread {
  median: number;
  min: number;
  max: number;
  mean: number;
}

export function spread(values: readonly number[]): Spread {
  if (values.length === 0) return { median: NaN, min: NaN, max: NaN, mean: NaN };
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  const mean = sorted.reduce((s, v) => s + v, 0) / sorted.length;
  return { median, min: sorted[0], max: sorted[sorted.length - 1], mean };
}

/** records / seconds for each run. */
export function rates(records: number, wallMs: readonly number[]): number[] {
  return wallMs.map((ms) => (ms > 0 ? records / (ms / 1000) : NaN));
}
