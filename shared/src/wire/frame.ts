import { Buffer } from 'node:buffer';
import { ErrorCodes, FrameError } from '../api/errors.js';
import { isClockValue, isEventTime, type Message } from '../api/message.js';
import { MAX_CBOR_ITEMS, cborDecoder, cborEncoder } from './cbor.js';

/**
 * The wire format between Tributary processes: one frame is a batch of messages from one
 * sender task to one receiver task, encoded as a single CBOR array
 *
 *   [version, app, epoch, sender, firstSeq, clock, [[ts, value] | [ts, value, key], ...]]
 *
 * The transport encodes a batch with `encodeFrame` and hands received bytes to `decodeFrame`,
 * which trusts nothing: anything wrong with the bytes is a `FrameError` with a stable code,
 * never another exception. Wrong arguments from our own code are TypeErrors / RangeErrors.
 */

export const FRAME_VERSION = 1;

export interface FrameHeader {
  /** Application id: non-empty, at most MAX_APP_LENGTH characters. */
  app: string;
  /** Session id: non-negative safe integer. */
  epoch: number;
  /** The sender task's short address: non-negative safe integer. */
  sender: number;
  /** Sequence number of the frame's first message on its channel: non-negative safe integer. */
  firstSeq: number;
  /** The sender's output min-clock after this batch: a safe integer or ±Infinity. */
  clock: number;
}

export interface Frame extends FrameHeader {
  messages: Message[];
}

export interface FrameLimits {
  /** Frames longer than this are refused before any decoding. */
  maxFrameBytes: number;
  /** At most this many messages per frame; may not exceed MAX_CBOR_ITEMS. */
  maxMessages: number;
}

/**
 * 16 MiB keeps one frame's decode to well under a second of event loop; 100k messages is the
 * same bound cbor-x enforces on any container (MAX_CBOR_ITEMS), so a batch never trips it.
 */
export const DEFAULT_FRAME_LIMITS: Readonly<FrameLimits> = Object.freeze({
  maxFrameBytes: 16 * 1024 * 1024,
  maxMessages: MAX_CBOR_ITEMS,
});

export const MAX_APP_LENGTH = 256;

const FRAME_FIELDS = 7;
const HEADER_FIELDS = 6;
const FIELD_NAMES = ['version', 'app', 'epoch', 'sender', 'firstSeq', 'clock'] as const;

/**
 * Called by a sending channel per batch. Validation is cheap (header fields and each ts, not
 * the values): it only stops frames the peer would certainly refuse. Values nested deeper or
 * larger than the decoder's limits (MAX_CBOR_ITEMS per container) still encode.
 */
export function encodeFrame(frame: Frame, limits?: Partial<FrameLimits>): Uint8Array {
  const { maxFrameBytes, maxMessages } = resolveLimits(limits);
  if (typeof frame !== 'object' || frame === null) throw new TypeError('encodeFrame: frame must be an object');
  const problem = headerProblem(frame);
  if (problem !== undefined) throw new TypeError(`encodeFrame: ${problem}`);
  const { messages } = frame;
  if (!Array.isArray(messages)) throw new TypeError('encodeFrame: messages must be an array');
  if (messages.length > maxMessages) {
    throw new RangeError(`encodeFrame: ${messages.length} messages, more than the limit of ${maxMessages}`);
  }
  const bytes = encodeCbor([
    FRAME_VERSION, frame.app, frame.epoch, frame.sender, frame.firstSeq, frame.clock, toItems(messages),
  ]);
  if (bytes.length > maxFrameBytes) {
    throw new RangeError(`encodeFrame: frame is ${bytes.length} bytes, more than the limit of ${maxFrameBytes}`);
  }
  return bytes;
}

/** Messages as wire items; the key is written only when present, so keyless messages stay short. */
function toItems(messages: readonly Message[]): unknown[] {
  const items = new Array<unknown>(messages.length);
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i];
    if (typeof m !== 'object' || m === null) throw new TypeError(`encodeFrame: messages[${i}] must be a message object`);
    if (!isEventTime(m.ts)) throw new TypeError(`encodeFrame: messages[${i}].ts must be a safe integer, got ${describe(m.ts)}`);
    items[i] = m.key === undefined ? [m.ts, m.value] : [m.ts, m.value, m.key];
  }
  return items;
}

/**
 * A copy, owned by the caller: cbor-x returns views into its shared output buffer, which grows
 * to the largest frame ever encoded, so holding one (an unacknowledged frame kept for resend)
 * would pin that whole buffer. The memcpy is lost in the noise next to encoding itself.
 */
function encodeCbor(value: unknown[]): Uint8Array {
  try {
    return Buffer.from(cborEncoder.encode(value));
  } catch (err) {
    throw new TypeError(`encodeFrame: a message cannot be encoded as CBOR: ${messageOf(err)}`, { cause: err });
  }
}

/**
 * Called by a receiving channel for every frame off the wire. The order of checks is the
 * contract: size (before touching the bytes), version (before interpreting the layout), CBOR
 * well-formedness, then fields in wire order. Decoded messages never share memory with `bytes`.
 */
export function decodeFrame(bytes: Uint8Array, limits?: Partial<FrameLimits>): Frame {
  const { maxFrameBytes, maxMessages } = resolveLimits(limits);
  checkBytes(bytes, 'decodeFrame');
  if (bytes.length > maxFrameBytes) {
    throw new FrameError(ErrorCodes.FRAME_TOO_LARGE, `frame is ${bytes.length} bytes, more than the limit of ${maxFrameBytes}`);
  }
  checkLeadingVersion(bytes);
  const raw = decodeCbor(bytes);
  if (!Array.isArray(raw)) throw invalid(`frame must be a CBOR array, got ${describe(raw)}`);
  checkVersion(raw[0]);
  if (raw.length !== FRAME_FIELDS) {
    throw invalid(`a version ${FRAME_VERSION} frame has ${FRAME_FIELDS} fields, got ${raw.length}`);
  }
  return { ...toHeader(raw), messages: toMessages(raw[6], maxMessages) };
}

function toMessages(items: unknown, maxMessages: number): Message[] {
  if (!Array.isArray(items)) throw invalid(`messages must be an array, got ${describe(items)}`);
  if (items.length > maxMessages) {
    throw invalid(`frame holds ${items.length} messages, more than the limit of ${maxMessages}`);
  }
  const messages = new Array<Message>(items.length);
  for (let i = 0; i < items.length; i++) {
    const item: unknown = items[i];
    if (!Array.isArray(item) || (item.length !== 2 && item.length !== 3)) {
      throw invalid(`messages[${i}] must be an array [ts, value] or [ts, value, key], got ${describe(item)}`);
    }
    const ts: unknown = item[0];
    if (!isEventTime(ts)) throw invalid(`messages[${i}].ts must be a safe integer, got ${describe(ts)}`);
    // an explicit undefined key reads as no key, as encodeFrame would have written it
    messages[i] = item[2] === undefined ? { ts, value: item[1] } : { ts, key: item[2], value: item[1] };
  }
  return messages;
}

/**
 * The header without decoding the messages: cheap enough to route or drop a frame (a replayed
 * `firstSeq`, a stale `epoch`) before paying for its body. Only the plain encodings
 * `encodeFrame` writes are accepted, and the body is not looked at, so `decodeFrame` may still
 * refuse a frame whose header peeks fine. Throws only FrameError for bad bytes.
 */
export function peekFrameHeader(bytes: Uint8Array): FrameHeader {
  checkBytes(bytes, 'peekFrameHeader');
  checkLeadingVersion(bytes);
  const array = readHead(bytes, 0);
  if (array === undefined || array.major !== 4) throw invalid('frame must be a CBOR array');
  if (array.value !== FRAME_FIELDS && !Number.isNaN(array.value)) {
    throw invalid(`a version ${FRAME_VERSION} frame has ${FRAME_FIELDS} fields, got ${array.value}`);
  }
  let end = array.next;
  for (let field = 0; field < HEADER_FIELDS; field++) end = skipScalar(bytes, end, field);
  // the header items re-framed as an array of six, so cbor-x decodes them and nothing after
  const copy = Buffer.allocUnsafe(1 + end - array.next);
  copy[0] = 0x80 | HEADER_FIELDS;
  copy.set(bytes.subarray(array.next, end), 1);
  const raw = decodeCbor(copy) as unknown[];
  checkVersion(raw[0]);
  return toHeader(raw);
}

/** The end of the scalar header item at `at`: an integer, a text string or a float. */
function skipScalar(bytes: Uint8Array, at: number, field: number): number {
  const head = readHead(bytes, at);
  if (head === undefined) throw invalid('frame header is truncated');
  const major = head.major;
  if ((major === 0 || major === 1) && !Number.isNaN(head.value)) return head.next;
  // UTF-8 takes at most 3 bytes per UTF-16 unit, which is what MAX_APP_LENGTH counts
  if (major === 3 && head.value <= 3 * MAX_APP_LENGTH && head.next + head.value <= bytes.length) {
    return head.next + head.value;
  }
  if (major === 7) return head.next;
  throw invalid(`frame header field ${FIELD_NAMES[field]} has an unexpected encoding`);
}

/** One CBOR initial byte and its argument (NaN for indefinite length); undefined if cut short. */
interface Head {
  major: number;
  value: number;
  next: number;
}

function readHead(bytes: Uint8Array, at: number): Head | undefined {
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
 * Read straight from the first bytes, before decoding, so that a frame from a newer peer is
 * reported as FRAME_VERSION even when the rest of its layout means nothing to this version.
 * Only for a one-byte array head (under 24 fields, or indefinite): anything else is garbage
 * rather than a frame of some other version.
 */
function checkLeadingVersion(bytes: Uint8Array): void {
  const array = readHead(bytes, 0);
  if (array === undefined || array.major !== 4 || array.next !== 1) return;
  const version = readHead(bytes, array.next);
  if (version !== undefined && version.major === 0 && !Number.isNaN(version.value)) checkVersion(version.value);
}

function checkVersion(version: unknown): void {
  if (version === FRAME_VERSION) return;
  if (typeof version === 'number' && Number.isInteger(version) && version >= 0) {
    throw new FrameError(
      ErrorCodes.FRAME_VERSION,
      `frame version ${version} is not supported: this node speaks version ${FRAME_VERSION}`,
    );
  }
  throw invalid(`frame version must be an unsigned integer, got ${describe(version)}`);
}

function toHeader(raw: unknown[]): FrameHeader {
  const header = { app: raw[1], epoch: raw[2], sender: raw[3], firstSeq: raw[4], clock: raw[5] };
  const problem = headerProblem(header);
  if (problem !== undefined) throw invalid(problem);
  return header as FrameHeader;
}

/** The first thing wrong with a header, in wire order; shared by both directions. */
function headerProblem(header: { [K in keyof FrameHeader]: unknown }): string | undefined {
  const { app, clock } = header;
  if (typeof app !== 'string' || app.length === 0 || app.length > MAX_APP_LENGTH) {
    return `app must be a non-empty string of at most ${MAX_APP_LENGTH} characters, got ${describe(app)}`;
  }
  for (const field of ['epoch', 'sender', 'firstSeq'] as const) {
    const value = header[field];
    if (!isEventTime(value) || value < 0) return `${field} must be a non-negative safe integer, got ${describe(value)}`;
  }
  if (!isClockValue(clock)) return `clock must be a safe integer or ±Infinity, got ${describe(clock)}`;
  return undefined;
}

function decodeCbor(bytes: Uint8Array): unknown {
  // byte strings decode to the source's class: a Buffer sent arrives as a Buffer
  const source = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  try {
    return cborDecoder.decode(source);
  } catch (err) {
    // cbor-x throws Error, RangeError (truncated DataView reads, stack overflow on deep nesting), TypeError
    throw invalid(`frame is not well-formed CBOR: ${messageOf(err)}`, err);
  }
}

function resolveLimits(limits: Partial<FrameLimits> | undefined): FrameLimits {
  if (limits === undefined) return DEFAULT_FRAME_LIMITS;
  const maxFrameBytes = limits.maxFrameBytes ?? DEFAULT_FRAME_LIMITS.maxFrameBytes;
  const maxMessages = limits.maxMessages ?? DEFAULT_FRAME_LIMITS.maxMessages;
  if (!Number.isSafeInteger(maxFrameBytes) || maxFrameBytes < 1) {
    throw new TypeError(`maxFrameBytes must be a positive safe integer, got ${describe(maxFrameBytes)}`);
  }
  if (!Number.isSafeInteger(maxMessages) || maxMessages < 0 || maxMessages > MAX_CBOR_ITEMS) {
    throw new TypeError(`maxMessages must be an integer from 0 to ${MAX_CBOR_ITEMS}, got ${describe(maxMessages)}`);
  }
  return { maxFrameBytes, maxMessages };
}

function checkBytes(bytes: unknown, caller: string): asserts bytes is Uint8Array {
  if (!(bytes instanceof Uint8Array)) throw new TypeError(`${caller}: bytes must be a Uint8Array, got ${describe(bytes)}`);
}

function invalid(message: string, cause?: unknown): FrameError {
  return new FrameError(ErrorCodes.FRAME_INVALID, message, cause === undefined ? undefined : { cause });
}

/** cbor-x messages can quote input (a RegExp's source, say), so they are cut short. */
function messageOf(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.length <= 200 ? message : `${message.slice(0, 200)}…`;
}

/** A short description for error messages; never echoes large or arbitrary input. */
function describe(value: unknown): string {
  if (typeof value === 'number' || typeof value === 'boolean' || value == null) return String(value);
  if (typeof value === 'string') return value.length <= 40 ? JSON.stringify(value) : `a string of ${value.length} characters`;
  if (Array.isArray(value)) return `an array of ${value.length}`;
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}
