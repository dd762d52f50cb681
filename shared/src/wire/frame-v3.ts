import { Buffer } from 'node:buffer';
import type { Message } from '../api/message.js';
import { decodeCbor, describe, invalid } from './frame-bytes.js';
import { asBuffer, cbor } from './frame-v2.js';

/**
 * Version 3 of the wire format (issue 14): version 2 with its keys as a dictionary. One CBOR array
 *
 *   [3, app, epoch, sender, firstSeq, clock, ts, dict, index, values]
 *
 *   ts      as in version 2: the event times, 8 bytes each (IEEE 754 double, little endian)
 *   dict    byte string holding the CBOR array of the distinct keys, in order of first use
 *           (undefined stands for a message without a key)
 *   index   byte string: each message's position in `dict`, one byte each when `dict` has at most
 *           256 entries, else two (little endian)
 *   values  as in version 2, last, written verbatim when encoded before
 *
 * A keyed stream carries few distinct keys per batch (a fleet's devices), and in version 2 every
 * message's key was a CBOR string of its own: encoded one by one on the sender, and decoded on the
 * receiver into a fresh string that a keyed operator's `Map` then hashed and compared again. Here
 * each distinct key is encoded and decoded once per frame, and every message with that key gets
 * the same string. A sender writes version 3 only when the dictionary pays (see `dictionaryKeys`);
 * frames without keys, or with mostly distinct ones, stay version 2, byte for byte.
 */
export const FRAME_V3 = 3;
export const V3_FIELDS = 10;

/** More than this many distinct keys and a frame is worth no dictionary (version 2 then). */
function dictionaryLimit(n: number): number {
  return Math.min(65_536, (n >> 1) + 16);
}

// Scratch, reused by every frame: the dictionary's lookup and the indices before packing.
const lookup = new Map<unknown, number>();
const dict: unknown[] = [];
let indices = new Uint16Array(1024);
let packed = Buffer.allocUnsafeSlow(2 * 1024);

/**
 * The dictionary and index sections of `messages` (at least one has a key), or null when there
 * are too many distinct keys for a dictionary to pay. Equal primitive keys (SameValueZero: CBOR
 * writes -0 as 0 anyway) share an entry; objects (arrays, byte strings) get one each, so every key
 * decodes as it does from version 2. Both results are only valid until the next call: encodeFrame
 * copies them into its header at once.
 * Throws TypeError if a key has no CBOR form.
 */
export function dictionaryKeys(messages: readonly Message[]): { dict: Buffer; index: Buffer } | null {
  const n = messages.length;
  if (n > indices.length) indices = new Uint16Array(n);
  try {
    if (!lookUp(messages)) return null;
    const wide = dict.length > 256;
    const size = wide ? 2 * n : n;
    if (size > packed.length) packed = Buffer.allocUnsafeSlow(size);
    if (wide) {
      for (let i = 0; i < n; i++) {
        packed[2 * i] = indices[i] & 0xff;
        packed[2 * i + 1] = indices[i] >> 8;
      }
    } else {
      for (let i = 0; i < n; i++) packed[i] = indices[i];
    }
    return { dict: asBuffer(cbor(dict)), index: packed.subarray(0, size) };
  } finally {
    lookup.clear();
    dict.length = 0;
  }
}

/** Fills `dict` and `indices` for `messages`; false when the dictionary would not pay. */
function lookUp(messages: readonly Message[]): boolean {
  const n = messages.length;
  const limit = dictionaryLimit(n);
  // Keys that all differ in the first quarter (a large fleet, round robin) will not pay for the
  // lookups of the rest either: give up there rather than after half the batch.
  const probe = n >= 256 ? n >> 2 : -1;
  for (let i = 0; i < n; i++) {
    const key = messages[i].key;
    const primitive = typeof key !== 'object' || key === null;
    let at = primitive ? lookup.get(key) : undefined;
    if (at === undefined) {
      at = dict.length;
      if (at === limit) return false;
      dict.push(key);
      if (primitive) lookup.set(key, at);
    }
    indices[i] = at;
    if (i === probe && 10 * dict.length > 9 * probe) return false;
  }
  return true;
}

/**
 * The keys of a decoded v3 frame with `n` messages (fields 7 and 8), one per message, undefined
 * for none; equal keys are the same value. Throws FrameError.
 */
export function v3Keys(dictBytes: unknown, index: unknown, n: number): unknown[] {
  if (!(dictBytes instanceof Uint8Array)) throw invalid(`dict must be a byte string, got ${describe(dictBytes)}`);
  const entries = decodeCbor(dictBytes, 'dict');
  if (!Array.isArray(entries) || entries.length > Math.max(n, 1) || (n > 0 && entries.length === 0)) {
    throw invalid(`dict must be an array of 1 to ${n} keys, got ${describe(entries)}`);
  }
  const width = entries.length > 256 ? 2 : 1;
  if (!(index instanceof Uint8Array) || index.byteLength !== width * n) {
    throw invalid(`index must be a byte string of ${width * n} bytes (${width} per message), got ${index instanceof Uint8Array ? `${index.byteLength} bytes` : describe(index)}`);
  }
  const keys = new Array<unknown>(n);
  for (let i = 0; i < n; i++) {
    const at = width === 1 ? index[i] : index[2 * i] | (index[2 * i + 1] << 8);
    if (at >= entries.length) throw invalid(`index of messages[${i}] is ${at}, beyond the dict of ${entries.length}`);
    keys[i] = entries[at];
  }
  return keys;
}
