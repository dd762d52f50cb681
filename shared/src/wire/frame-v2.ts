import { Buffer } from 'node:buffer';
import { isEventTime, type Message } from '../api/message.js';
import { cborEncoder, valuesEncoder } from './cbor.js';
import { encodeFlatRecords } from './flat-records.js';
import { decodeCbor, describe, invalid, messageOf } from './frame-bytes.js';

/**
 * Version 2 of the wire format ("encode once", issue 14): one CBOR array
 *
 *   [2, app, epoch, sender, firstSeq, clock, ts, keys, values]
 *
 *   ts      byte string: the messages' event times, 8 bytes each (IEEE 754 double, little endian)
 *   keys    null (no message has a key) or a byte string holding the CBOR array of the keys
 *           (undefined for a message without one)
 *   values  the CBOR array of the messages' values, last, so that it can be written verbatim
 *
 * The values section is what costs: a source's batch is encoded once (EncodedValues), the replay
 * log stores that frame, and a remote channel sending the same values (a source's records passed
 * on unchanged, keyed or filtered only by value-preserving operators) writes the same bytes after
 * its own small header instead of encoding them again. Nothing is allocated per message on the
 * way out: event times go into one buffer, keys into one array, values into one array.
 */
export const FRAME_V2 = 2;
export const V2_FIELDS = 9;

/** A batch's values encoded once, with the values themselves to recognise them by. */
export interface EncodedValues {
  /** The values, in order; a batch whose messages carry these very values may reuse `bytes`. */
  readonly values: readonly unknown[];
  /** The CBOR array of `values`. */
  readonly bytes: Uint8Array;
}

/**
 * Called by the source feed (before its replay-log append) and by encodeFrame. The bytes are a
 * view into cbor-x's output buffer or the fast path's slab (flat-records.ts), which later encodes
 * never overwrite (they move on, or on to a new buffer); holding them pins at most that buffer.
 * Throws TypeError if a value has no CBOR form.
 */
export function encodeValues(values: readonly unknown[]): EncodedValues {
  // A batch of flat records of one shape (most sources' batches) takes the fast path: the same bytes.
  return { values, bytes: encodeFlatRecords(values) ?? cbor(values, valuesEncoder) };
}

/** True when `encoded` holds exactly these messages' values (the same objects, in order). */
export function sameValues(messages: readonly Message[], encoded: EncodedValues): boolean {
  const values = encoded.values;
  if (values.length !== messages.length) return false;
  for (let i = 0; i < values.length; i++) if (!Object.is(messages[i].value, values[i])) return false;
  return true;
}

/** Event times are written here and copied out by the header's encode at once: no buffer per frame. */
let scratch = Buffer.allocUnsafeSlow(8 * 1024);
let scratchView = new DataView(scratch.buffer);

/**
 * The event-time section, validated as encodeFrame promises (every ts a safe integer), and whether
 * any message has a key. Throws TypeError. `ts` is only valid until the next call (a shared
 * scratch buffer): encodeFrame encodes it into its header right away.
 */
export function eventTimes(messages: readonly Message[]): { ts: Buffer; keyed: boolean } {
  const n = messages.length;
  if (8 * n > scratch.length) {
    scratch = Buffer.allocUnsafeSlow(8 * n);
    scratchView = new DataView(scratch.buffer);
  }
  const ts = scratch.subarray(0, 8 * n);
  const view = scratchView;
  let keyed = false;
  for (let i = 0; i < n; i++) {
    const m = messages[i];
    if (typeof m !== 'object' || m === null) throw new TypeError(`encodeFrame: messages[${i}] must be a message object`);
    if (!isEventTime(m.ts)) throw new TypeError(`encodeFrame: messages[${i}].ts must be a safe integer, got ${describe(m.ts)}`);
    view.setFloat64(8 * i, m.ts, true);
    if (m.key !== undefined) keyed = true;
  }
  return { ts, keyed };
}

/**
 * The version 2 keys section: the CBOR array of every message's key (undefined for none). Only
 * valid until the next encode (a view into cbor-x's output, see encodeValues). Throws TypeError.
 */
export function keyList(messages: readonly Message[]): Buffer {
  const keys = new Array<unknown>(messages.length);
  for (let i = 0; i < messages.length; i++) keys[i] = messages[i].key;
  return asBuffer(cbor(keys));
}

/** The values of messages, as one array for one encode. */
export function valuesOf(messages: readonly Message[]): unknown[] {
  const values = new Array<unknown>(messages.length);
  for (let i = 0; i < messages.length; i++) values[i] = messages[i].value;
  return values;
}

/** The messages of a decoded v2 frame (fields 6, 7, 8). Throws FrameError. */
export function v2Messages(raw: unknown[], maxMessages: number): Message[] {
  return sectionMessages(raw[6], raw[8], maxMessages, (n) => {
    const keyBytes: unknown = raw[7];
    if (keyBytes === null) return null;
    if (!(keyBytes instanceof Uint8Array)) throw invalid(`keys must be null or a byte string, got ${describe(keyBytes)}`);
    const decoded = decodeCbor(keyBytes, 'keys');
    if (!Array.isArray(decoded) || decoded.length !== n) throw invalid(`keys must be an array of ${n}, got ${describe(decoded)}`);
    return decoded;
  });
}

/**
 * Messages from the sections of a version 2 or 3 frame: the values array, the event-time bytes
 * and the keys (`keysOf(n)`: one per message, undefined for none, or null for no keys at all),
 * checked in that order. Throws FrameError.
 */
export function sectionMessages(ts: unknown, values: unknown, maxMessages: number, keysOf: (n: number) => unknown[] | null): Message[] {
  if (!Array.isArray(values)) throw invalid(`values must be an array, got ${describe(values)}`);
  const n = values.length;
  if (n > maxMessages) throw invalid(`frame holds ${n} messages, more than the limit of ${maxMessages}`);
  if (!(ts instanceof Uint8Array) || ts.byteLength !== 8 * n) {
    throw invalid(`ts must be a byte string of 8 bytes per message (${8 * n}), got ${ts instanceof Uint8Array ? `${ts.byteLength} bytes` : describe(ts)}`);
  }
  const keys = keysOf(n);
  const view = new DataView(ts.buffer, ts.byteOffset, ts.byteLength);
  const messages = new Array<Message>(n);
  for (let i = 0; i < n; i++) {
    const t = view.getFloat64(8 * i, true);
    if (!isEventTime(t)) throw invalid(`messages[${i}].ts must be a safe integer, got ${describe(t)}`);
    const key = keys === null ? undefined : keys[i];
    messages[i] = key === undefined ? { ts: t, value: values[i] } : { ts: t, key, value: values[i] };
  }
  return messages;
}

/** One CBOR encode of a frame section; a value without a CBOR form is a TypeError. */
export function cbor(value: readonly unknown[], encoder = cborEncoder): Uint8Array {
  try {
    return encoder.encode(value);
  } catch (err) {
    throw new TypeError(`encodeFrame: a message cannot be encoded as CBOR: ${messageOf(err)}`, { cause: err });
  }
}

/** cbor-x's output is a Buffer under Node (encoded as a byte string, not a tagged Uint8Array). */
export function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
