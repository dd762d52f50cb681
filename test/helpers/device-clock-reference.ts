/**
 * The per-device clock written the obvious way, for tests to compare the runtime's decisions
 * with: for each record in order, the source clock is the max so far of the minimum, over the
 * devices whose newest timestamp is within idleMs of the newest of all, of (newest - that
 * device's delay); a record behind it is late (and still counts for its device's newest). O(devices) per record,
 * no pruning, no holder tracking: independent of DeviceWatermark's bookkeeping.
 */
export function referenceLate(records: readonly { ts: number; device: string }[], delayOf: (device: string) => number, idleMs: number): boolean[] {
  const newest = new Map<string, number>();
  let maxSeen = -Infinity;
  let clock = -Infinity;
  const idle = idleMs > 0 ? idleMs : Infinity;
  return records.map(({ ts, device }) => {
    const late = ts < clock;
    newest.set(device, Math.max(newest.get(device) ?? -Infinity, ts));
    maxSeen = Math.max(maxSeen, ts);
    let min = Infinity;
    for (const [d, n] of newest) if (maxSeen - n <= idle) min = Math.min(min, n - delayOf(d));
    clock = Math.max(clock, min);
    return late;
  });
}
