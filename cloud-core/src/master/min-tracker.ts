/**
 * The minimum of a fixed set of keyed values that change one at a time (ClockService: every
 * placed task's input clock, one report per node per heartbeat). A key never set counts as
 * -Infinity. `set` is O(log n) (a binary min-heap with lazy deletion: stale entries are
 * dropped when they surface at the top, and the heap is rebuilt when they outnumber live ones),
 * `min` amortised O(1); a full pass is needed only when the set of keys changes (constructor).
 */
export class MinTracker {
  private readonly values = new Map<number, number>();
  /** Keys placed but not set yet: while any, the minimum is -Infinity. */
  private unset = 0;
  private heap: { key: number; value: number }[] = [];

  /** `keys`: the keys that count. Values of `previous` for those keys carry over. */
  constructor(keys: readonly number[], previous?: MinTracker) {
    for (const k of keys) {
      if (this.values.has(k)) continue;
      const v = previous?.values.get(k);
      this.values.set(k, v ?? NaN);
      if (v === undefined || Number.isNaN(v)) this.unset++;
    }
    this.rebuild();
  }

  /** Sets `key`'s value; a key outside the set is ignored. */
  set(key: number, value: number): void {
    const old = this.values.get(key);
    if (old === undefined || old === value) return;
    if (Number.isNaN(old)) this.unset--;
    this.values.set(key, value);
    this.push({ key, value });
    if (this.heap.length > 2 * this.values.size + 64) this.rebuild();
  }

  /** The minimum over every key (-Infinity while one is unset; +Infinity with no keys). */
  min(): number {
    if (this.unset > 0) return -Infinity;
    while (this.heap.length > 0) {
      const top = this.heap[0];
      if (this.values.get(top.key) === top.value) return top.value;
      this.pop();
    }
    return Infinity;
  }

  private rebuild(): void {
    this.heap = [];
    for (const [key, value] of this.values) if (!Number.isNaN(value)) this.heap.push({ key, value });
    for (let i = (this.heap.length >> 1) - 1; i >= 0; i--) this.down(i);
  }

  private push(e: { key: number; value: number }): void {
    const h = this.heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (h[parent].value <= e.value) break;
      h[i] = h[parent];
      i = parent;
    }
    h[i] = e;
  }

  private pop(): void {
    const h = this.heap;
    const last = h.pop()!;
    if (h.length === 0) return;
    h[0] = last;
    this.down(0);
  }

  private down(i: number): void {
    const h = this.heap;
    const e = h[i];
    for (;;) {
      let c = 2 * i + 1;
      if (c >= h.length) break;
      if (c + 1 < h.length && h[c + 1].value < h[c].value) c++;
      if (h[c].value >= e.value) break;
      h[i] = h[c];
      i = c;
    }
    h[i] = e;
  }
}
