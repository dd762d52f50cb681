import type { Message } from '../api/message.js';

/** Keys are sampled about one message in this many: the sketch's cost stays off most records. */
export const KEY_SAMPLE_EVERY = 16; // the gap() below draws gaps of mean 16
/** Slots of a task's sketch: keys hotter than ~1/16 of the sampled traffic are always in it. */
export const KEY_SKETCH_SIZE = 16;
/** Keys a task reports (the sketch's lower slots are mostly churn). */
export const KEYS_REPORTED = 10;
/** Reported keys are cut to this many characters. */
const KEY_CHARS = 80;

/**
 * Space-Saving (Metwally et al.): the `capacity` most frequent keys of a stream with counts that
 * overestimate by at most the count of the slot they took over. A key not in the sketch takes
 * the least-counted slot and inherits its count. Fixed size: small arrays searched linearly, one
 * pass finding the key or the least-counted slot; a constant-time fingerprint of each key
 * (length and four characters) spares most string comparisons, hashing the key would cost more.
 */
export class HeavyHitters {
  private readonly keys: string[] = [];
  private readonly prints: Int32Array;
  private readonly counts: Float64Array;
  private n = 0;

  constructor(readonly capacity = KEY_SKETCH_SIZE) {
    this.prints = new Int32Array(capacity);
    this.counts = new Float64Array(capacity);
  }

  offer(key: string, weight = 1): void {
    const { keys, prints, counts } = this;
    const f = fingerprint(key);
    const n = this.n;
    let m = 0;
    for (let j = 0; j < n; j++) {
      if (prints[j] === f && keys[j] === key) {
        counts[j] += weight;
        return;
      }
      if (counts[j] < counts[m]) m = j;
    }
    if (n < this.capacity) {
      m = this.n++;
      counts[m] = 0;
    }
    keys[m] = key;
    prints[m] = f;
    counts[m] += weight;
  }

  /** The `n` hottest keys with their (over)estimated counts, hottest first. */
  top(n = KEYS_REPORTED): [key: string, count: number][] {
    const order = Array.from({ length: this.n }, (_, i) => i).sort((a, b) => this.counts[b] - this.counts[a] || (this.keys[a] < this.keys[b] ? -1 : 1));
    return order.slice(0, n).map((i) => [this.keys[i].length > KEY_CHARS ? `${this.keys[i].slice(0, KEY_CHARS - 1)}…` : this.keys[i], this.counts[i]]);
  }

  get size(): number {
    return this.n;
  }
}

/** Length and four characters (first, last, middle, three quarters): O(1) whatever the key. */
function fingerprint(s: string): number {
  const n = s.length;
  if (n === 0) return 0;
  return (Math.imul(n, 0x9e3779b1) ^ s.charCodeAt(0) ^ (s.charCodeAt(n - 1) << 8) ^ (s.charCodeAt(n >> 1) << 16) ^ (s.charCodeAt((3 * n) >> 2) << 24)) | 0;
}

/**
 * Counts a task's input keys approximately: one message in ~KEY_SAMPLE_EVERY (random gaps, so a
 * periodic key pattern cannot alias with the sampling), each sample weighing KEY_SAMPLE_EVERY
 * records, into a HeavyHitters sketch. Messages without a key are skipped. Per batch it touches
 * only the sampled messages.
 */
export class KeySampler {
  readonly sketch = new HeavyHitters();
  /** Index, in the next batch, of the next message to sample. */
  private next: number;
  private rng: number;

  constructor(seed = 1) {
    this.rng = (seed ^ 0x9e3779b9) | 0 || 1;
    this.next = this.gap() - 1;
  }

  sample(messages: readonly Message[]): void {
    const n = messages.length;
    let i = this.next;
    if (i >= n) {
      this.next = i - n;
      return;
    }
    const sketch = this.sketch;
    let x = this.rng;
    while (i < n) {
      const k = messages[i].key;
      if (k !== undefined) sketch.offer(typeof k === 'string' ? k : keyString(k), KEY_SAMPLE_EVERY);
      // The next gap: 1 + two uniform draws on 0..15 from xorshift32 bits (1..31, mean 16). Masks,
      // not `%`: a modulo of an unsigned 32-bit value is a floating-point operation in V8.
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      i += 1 + (x & 15) + ((x >>> 4) & 15);
    }
    this.rng = x;
    this.next = i - n;
  }

  /** As in sample(): 1..31, mean 16. */
  private gap(): number {
    let x = this.rng;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.rng = x;
    return 1 + (x & 15) + ((x >>> 4) & 15);
  }
}

/** A key as the dashboard shows it: strings as they are, numbers and the rest printed. */
export function keyString(k: unknown): string {
  if (typeof k === 'string') return k;
  if (k === null || typeof k !== 'object') return String(k);
  try {
    return JSON.stringify(k) ?? String(k);
  } catch {
    return String(k);
  }
}
