/**
 * A fast path of `valuesEncoder` (cbor.ts) for the batch most sources produce: plain objects of one
 * shape (the same own keys in the same order, at most MAX_KEYS) whose fields are numbers, ASCII
 * strings, booleans or null, like a fleet's readings. It writes, byte for byte, what cbor-x's
 * record encoder writes for such a batch (test/flat-records.test.ts compares them on generated and
 * edge-case batches):
 *
 *   array(n)
 *   first:  tag 0xdfff, array(k + 2) [0xe000, array(k) of the keys, ...the k values]   (definition)
 *   others: tag 0xe000, array(k) [...the k values]
 *
 * with cbor-x's scalar encodings: unsigned and negative integers in the fewest bytes up to 32 bits,
 * every other number as a float64 (cbor-x writes -0 as 0, as here), strings with the shortest
 * length header. Any other batch (another shape, a nested value, a non-ASCII string, undefined, a
 * class instance...) returns null and goes to cbor-x whole.
 *
 * Why: cbor-x walks a transition tree per key and dispatches on each value's type through its
 * generic encode; for a fleet batch that was ~27 % of the agent's main thread (bench/README.md,
 * sessions 10-11). Here the shape is checked once per object against the first one's keys.
 */

/** Most keys per record on the fast path: k + 2 stays within a one-byte array header. */
export const MAX_KEYS = 21;
const SLAB_BYTES = 1024 * 1024;

let slab = Buffer.allocUnsafeSlow(SLAB_BYTES);
/**
 * The slab's DataView, replaced with it (newSlab): head() and number() write their wide integers
 * and floats through it, so the `buf` they are given is always the slab. (The Buffer's own
 * writeUInt32BE/writeDoubleBE took 123-212 ns per fleet record against 97-103 here.)
 */
let view = new DataView(slab.buffer, slab.byteOffset, slab.byteLength);
let slabPos = 0;

/** The batch's bytes as cbor-x's record encoder would write them, or null when it is not a flat batch of one shape. */
export function encodeFlatRecords(values: readonly unknown[]): Buffer | null {
  const n = values.length;
  if (n === 0) return null;
  const first = values[0];
  if (!isPlain(first)) return null;
  const keys: string[] = [];
  for (const key in first) {
    keys.push(key);
    if (keys.length > MAX_KEYS) return null;
  }
  if (keys.length === 0) return null;
  // An enumerable property on Object.prototype would show in for...in, and cbor-x leaves it out.
  for (const _ in Object.prototype) return null;
  // Start at the slab's free part; on running out, move to a new slab and start over once.
  for (let attempt = 0; attempt < 2; attempt++) {
    const end = write(values, keys, slabPos);
    if (end >= 0) {
      const out = slab.subarray(slabPos, end);
      slabPos = end;
      return out;
    }
    if (end === NOT_FLAT) return null;
    // Out of room: a new slab for what the batch seems to need (a second miss goes to cbor-x).
    newSlab(Math.max(SLAB_BYTES, Math.ceil(-end * 1.25)));
  }
  return null;
}

const NOT_FLAT = -1;

function isPlain(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && Object.getPrototypeOf(v) === Object.prototype;
}

function newSlab(bytes: number): void {
  slab = Buffer.allocUnsafeSlow(bytes);
  view = new DataView(slab.buffer, slab.byteOffset, slab.byteLength);
  slabPos = 0;
}

/** CBOR major types, as the high bits of a head's first byte. */
const UINT = 0x00;
const NEGINT = 0x20;
const TEXT = 0x60;
const ARRAY = 0x80;
const TAG = 0xc0;
/** cbor-x's record tags: a definition (0xdfff), and the first record id it assigns in an encode (0xe000). */
const RECORD_DEFINITION = 0xdfff;
const FIRST_RECORD_ID = 0xe000;

/**
 * Writes the batch at `start`; returns the end, NOT_FLAT, or -(bytes wanted) (< -1) when the
 * slab ran out.
 */
function write(values: readonly unknown[], keys: readonly string[], start: number): number {
  const buf = slab;
  const cap = buf.length;
  const k = keys.length;
  const n = values.length;
  // Room for the array's head, the definition (heads and keys) and the first record's values
  // without their strings; later records check their own.
  let need = 5 + 8 + 3 * k + 9 * k;
  for (let i = 0; i < k; i++) need += keys[i].length;
  if (start + need > cap) return wanted(need, 1, n, 0);
  let p = head(buf, start, ARRAY, n);
  for (let r = 0; r < n; r++) {
    const o = values[r];
    if (!isPlain(o)) return NOT_FLAT;
    if (r === 0) {
      p = head(buf, p, TAG, RECORD_DEFINITION);
      p = head(buf, p, ARRAY, k + 2);
      p = head(buf, p, UINT, FIRST_RECORD_ID);
      p = head(buf, p, ARRAY, k);
      for (let i = 0; i < k; i++) {
        p = asciiString(buf, p, keys[i]);
        if (p < 0) return NOT_FLAT;
      }
    } else {
      // Worst case of a record without its strings: tag 3 + head 1 + 9 per value.
      if (p + 4 + 9 * k > cap) return wanted(p - start, r, n, 4 + 9 * k);
      p = head(buf, p, TAG, FIRST_RECORD_ID);
      p = head(buf, p, ARRAY, k);
    }
    let j = 0;
    for (const key in o) {
      if (j === k || key !== keys[j]) return NOT_FLAT;
      j++;
      const v = o[key];
      switch (typeof v) {
        case 'number':
          p = number(buf, p, v);
          break;
        case 'string':
          if (p + 5 + v.length + 9 * (k - j) > cap) return wanted(p - start, r, n, 5 + v.length + 9 * k);
          p = asciiString(buf, p, v);
          if (p < 0) return NOT_FLAT;
          break;
        case 'boolean':
          buf[p++] = v ? 0xf5 : 0xf4;
          break;
        default:
          if (v !== null) return NOT_FLAT;
          buf[p++] = 0xf6;
      }
    }
    if (j !== k) return NOT_FLAT;
  }
  return p;
}

/** Out of room after `r` of `n` records took `written` bytes: -(a guess at the bytes the whole batch needs). */
function wanted(written: number, r: number, n: number, extra: number): number {
  return -Math.ceil(((written + extra) * n) / Math.max(1, r) + 64);
}

/** A CBOR head: the major type and its argument (0 <= arg < 2^32) in the fewest bytes, as cbor-x writes them. At most 5 bytes. */
function head(buf: Buffer, p: number, major: number, arg: number): number {
  if (arg < 0x18) {
    buf[p++] = major | arg;
  } else if (arg < 0x100) {
    buf[p++] = major | 0x18;
    buf[p++] = arg;
  } else if (arg < 0x10000) {
    buf[p++] = major | 0x19;
    buf[p++] = arg >> 8;
    buf[p++] = arg & 0xff;
  } else {
    buf[p++] = major | 0x1a;
    view.setUint32(p, arg);
    p += 4;
  }
  return p;
}

/**
 * cbor-x's number encoding without useFloat32 (the valuesEncoder's): integers from -2^32 to
 * 2^32 - 1 in the fewest bytes (-0 as 0: `-0 >>> 0 === -0`), every other number as a float64.
 * At most 9 bytes.
 */
function number(buf: Buffer, p: number, value: number): number {
  if (value >>> 0 === value) return head(buf, p, UINT, value);
  if (value < 0 && value >= -0x1_0000_0000 && Math.floor(value) === value) return head(buf, p, NEGINT, -1 - value);
  buf[p++] = 0xfb;
  view.setFloat64(p, value);
  return p + 8;
}

/** An ASCII string with the shortest length head (the caller made room: 5 + length); -1 for any other string. */
function asciiString(buf: Buffer, p: number, s: string): number {
  const length = s.length;
  if (length >= 0x10000) return -1;
  // ASCII: as many bytes as characters, so the head goes first; a non-ASCII character abandons the batch.
  p = head(buf, p, TEXT, length);
  for (let i = 0; i < length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x80) return -1;
    buf[p + i] = c;
  }
  return p + length;
}
