import { Buffer } from 'node:buffer';
import { ErrorCodes, FrameError } from '../api/errors.js';
import { cborDecoder } from './cbor.js';

/**
 * Byte-level helpers of the frame codec (frame.ts, frame-v1.ts): CBOR initial bytes read by
 * hand (to peek at a header or find where a section starts without decoding the rest), the
 * one guarded cbor-x decode, and the error and description helpers both versions share.
 */

/** One CBOR initial byte and its argument (NaN for indefinite length); undefined if cut short. */
export interface Head {
  major: number;
  value: number;
  next: number;
}

export function readHead(bytes: Uint8Array, at: number): Head | undefined {
  if (at >= bytes.length) return undefined;
  const major = bytes[at] >> 5;
  const info = bytes[at] & 0x1f;
  if (info < 24) return { major, value: info, next: at + 1 };
  if (info === 31) return { major, value: NaN, next: at + 1 };
  if (info > 27) return undefined;
  const size = 1 << (info - 24);
  if (at + 1 + size > bytes.length) return undefined;
  let value = 0;
  for (let i = 1; i <= size; i++) value = value * 256 + bytes[at + i];
  return { major, value, next: at + 1 + size };
}

/**
 * The end of the item at `at` when it is a definite scalar (integer, float, simple value) or a
 * definite byte or text string of at most `maxString` bytes; undefined for anything else or
 * when cut short. Header fields and the sections before a v2 frame's values are only these.
 */
export function scalarEnd(bytes: Uint8Array, at: number, maxString: number): number | undefined {
  const head = readHead(bytes, at);
  if (head === undefined || Number.isNaN(head.value)) return undefined;
  switch (head.major) {
    case 0:
    case 1:
    case 7:
      return head.next;
    case 2:
    case 3:
      return head.value <= maxString && head.next + head.value <= bytes.length ? head.next + head.value : undefined;
    default:
      return undefined;
  }
}

export function decodeCbor(bytes: Uint8Array, what = 'frame'): unknown {
  // byte strings decode to the source's class: a Buffer sent arrives as a Buffer
  const source = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  try {
    return cborDecoder.decode(source);
  } catch (err) {
    // cbor-x throws Error, RangeError (truncated DataView reads, stack overflow on deep nesting), TypeError
    throw invalid(`${what} is not well-formed CBOR: ${messageOf(err)}`, err);
  }
}

export function checkBytes(bytes: unknown, caller: string): asserts bytes is Uint8Array {
  if (!(bytes instanceof Uint8Array)) throw new TypeError(`${caller}: bytes must be a Uint8Array, got ${describe(bytes)}`);
}

export function invalid(message: string, cause?: unknown): FrameError {
  return new FrameError(ErrorCodes.FRAME_INVALID, message, cause === undefined ? undefined : { cause });
}

/** cbor-x messages can quote input (a RegExp's source, say), so they are cut short. */
export function messageOf(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.length <= 200 ? message : `${message.slice(0, 200)}…`;
}

/** A short description for error messages; never echoes large or arbitrary input. */
export function describe(value: unknown): string {
  if (typeof value === 'number' || typeof value === 'boolean' || value == null) return String(value);
  if (typeof value === 'string') return value.length <= 40 ? JSON.stringify(value) : `a string of ${value.length} characters`;
  if (Array.isArray(value)) return `an array of ${value.length}`;
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}
