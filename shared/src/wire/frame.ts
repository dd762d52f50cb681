import { Buffer } from 'node:buffer';
import { ErrorCodes, FrameError } from '../api/errors.js';
import { isClockValue, isEventTime, type Message } from '../api/message.js';
import { MAX_CBOR_ITEMS, cborEncoder } from './cbor.js';
import { checkBytes, decodeCbor, describe, invalid, messageOf, readHead, scalarEnd } from './frame-bytes.js';
import { FRAME_V1, V1_FIELDS, v1Items, v1Messages } from './frame-v1.js';
import { FRAME_V2, V2_FIELDS, encodeValues, eventTimes, keyList, sameValues, sectionMessages, v2Messages, valuesOf, type EncodedValues } from './frame-v2.js';
import { FRAME_V3, V3_FIELDS, dictionaryKeys, v3Keys } from './frame-v3.js';

/**
 * The wire format between Tributary processes: one frame is a batch of messages from one sender
 * task to one receiver task. Nodes send version 2 (frame-v2.ts: event times, keys and values in
 * three sections, the values encoded once per batch and reused from the replay log) or, when its
 * messages' keys repeat, version 3 (frame-v3.ts: the same with the keys as a dictionary and an
 * index), and decode versions 1 (frame-v1.ts), 2 and 3. All are one CBOR array that starts with
 * the same six fields:
 *
 *   [version, app, epoch, sender, firstSeq, clock, ...]
 *
 * The transport encodes a batch with `encodeFrame` and hands received bytes to `decodeFrame`,
 * which trusts nothing: anything wrong with the bytes is a `FrameError` with a stable code,
 * never another exception. Wrong arguments from our own code are TypeErrors / RangeErrors.
 */

/** The newest version this node sends (and so the newest it reads). */
export const FRAME_VERSION = FRAME_V3;

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

const HEADER_FIELDS = 6;
const FIELD_NAMES = ['version', 'app', 'epoch', 'sender', 'firstSeq', 'clock'] as const;
const FIELDS: Record<number, number> = { [FRAME_V1]: V1_FIELDS, [FRAME_V2]: V2_FIELDS, [FRAME_V3]: V3_FIELDS };

/**
 * Called by a sending channel per batch and by the replay log per appended batch. `values`, when
 * given and holding exactly these messages' values (the same objects, in order), is written as
 * it is instead of encoding the values again. Validation is cheap (header fields and each ts, not
 * the values): it only stops frames the peer would certainly refuse. The result has its own
 * ArrayBuffer (it can be transferred to another thread, and holding it pins nothing else).
 *
 * Keyed messages go out as version 3 when their keys repeat enough for a dictionary to pay, else
 * as version 2; `keyDictionary: false` always writes version 2 (the replay log, so that an agent
 * rolled back to a release before version 3 still reads its log).
 */
export function encodeFrame(frame: Frame, limits?: Partial<FrameLimits>, values?: EncodedValues | null, keyDictionary = true): Uint8Array {
  const { maxFrameBytes, maxMessages } = checkFrame(frame, limits);
  const { messages } = frame;
  const { ts, keyed } = eventTimes(messages);
  const dictionary = keyed && keyDictionary ? dictionaryKeys(messages) : null;
  const body = values != null && sameValues(messages, values) ? values.bytes : encodeValues(valuesOf(messages)).bytes;
  // The header and the sections before the values as one array, then the values appended as its last item.
  const { app, epoch, sender, firstSeq, clock } = frame;
  const head = dictionary !== null
    ? encodeCbor([FRAME_V3, app, epoch, sender, firstSeq, clock, ts, dictionary.dict, dictionary.index])
    : encodeCbor([FRAME_V2, app, epoch, sender, firstSeq, clock, ts, keyed ? keyList(messages) : null]);
  const size = head.length + body.length;
  if (size > maxFrameBytes) throw new RangeError(`encodeFrame: frame is ${size} bytes, more than the limit of ${maxFrameBytes}`);
  const bytes = Buffer.allocUnsafeSlow(size);
  bytes.set(head, 0);
  bytes[0] = 0x80 | (dictionary !== null ? V3_FIELDS : V2_FIELDS);
  bytes.set(body, head.length);
  return bytes;
}

/** A version 1 frame: what nodes sent before version 2 (compatibility tests, comparisons). */
export function encodeFrameV1(frame: Frame, limits?: Partial<FrameLimits>): Uint8Array {
  const { maxFrameBytes } = checkFrame(frame, limits);
  const bytes = Buffer.from(encodeCbor([FRAME_V1, frame.app, frame.epoch, frame.sender, frame.firstSeq, frame.clock, v1Items(frame.messages)]));
  if (bytes.length > maxFrameBytes) throw new RangeError(`encodeFrame: frame is ${bytes.length} bytes, more than the limit of ${maxFrameBytes}`);
  return bytes;
}

function checkFrame(frame: Frame, limits: Partial<FrameLimits> | undefined): FrameLimits {
  const resolved = resolveLimits(limits);
  if (typeof frame !== 'object' || frame === null) throw new TypeError('encodeFrame: frame must be an object');
  const problem = headerProblem(frame);
  if (problem !== undefined) throw new TypeError(`encodeFrame: ${problem}`);
  if (!Array.isArray(frame.messages)) throw new TypeError('encodeFrame: messages must be an array');
  if (frame.messages.length > resolved.maxMessages) {
    throw new RangeError(`encodeFrame: ${frame.messages.length} messages, more than the limit of ${resolved.maxMessages}`);
  }
  return resolved;
}

function encodeCbor(value: unknown[]): Uint8Array {
  try {
    return cborEncoder.encode(value);
  } catch (err) {
    throw new TypeError(`encodeFrame: a message cannot be encoded as CBOR: ${messageOf(err)}`, { cause: err });
  }
}

/**
 * Called by a receiving channel for every frame off the wire, and by the replay log reading a
 * batch back. The order of checks is the contract: size (before touching the bytes), version
 * (before interpreting the layout), CBOR well-formedness, then fields in wire order. Decoded
 * messages never share memory with `bytes`.
 */
export function decodeFrame(bytes: Uint8Array, limits?: Partial<FrameLimits>): Frame {
  return decodeFrameWithValues(bytes, limits).frame;
}

/**
 * As decodeFrame, and for a version 2 or 3 frame its values section as EncodedValues (a view into
 * `bytes`): the replay log hands it on with the batch, so sending it on needs no encode.
 */
export function decodeFrameWithValues(bytes: Uint8Array, limits?: Partial<FrameLimits>): { frame: Frame; values: EncodedValues | null } {
  const { maxFrameBytes, maxMessages } = resolveLimits(limits);
  checkBytes(bytes, 'decodeFrame');
  if (bytes.length > maxFrameBytes) {
    throw new FrameError(ErrorCodes.FRAME_TOO_LARGE, `frame is ${bytes.length} bytes, more than the limit of ${maxFrameBytes}`);
  }
  checkLeadingVersion(bytes);
  const raw = decodeCbor(bytes);
  if (!Array.isArray(raw)) throw invalid(`frame must be a CBOR array, got ${describe(raw)}`);
  const version = checkVersion(raw[0]);
  if (raw.length !== FIELDS[version]) {
    throw invalid(`a version ${version} frame has ${FIELDS[version]} fields, got ${raw.length}`);
  }
  const header = toHeader(raw);
  if (version === FRAME_V1) return { frame: { ...header, messages: v1Messages(raw[6], maxMessages) }, values: null };
  const messages = version === FRAME_V2
    ? v2Messages(raw, maxMessages)
    : sectionMessages(raw[6], raw[9], maxMessages, (n) => v3Keys(raw[7], raw[8], n));
  const last = FIELDS[version] - 1;
  const at = valuesOffset(bytes, last);
  const values = at === undefined ? null : { values: raw[last] as unknown[], bytes: bytes.subarray(at) };
  return { frame: { ...header, messages }, values };
}

/**
 * The number of messages in a frame this node wrote (the replay log counting its batches when it
 * opens): for versions 2 and 3 read from the length of the event-time section, without decoding
 * the values; version 1 is decoded. Throws FrameError for bytes that are not a frame.
 */
export function frameMessageCount(bytes: Uint8Array): number {
  checkBytes(bytes, 'frameMessageCount');
  checkLeadingVersion(bytes);
  if ((bytes[0] === (0x80 | V2_FIELDS) && bytes[1] === FRAME_V2) || (bytes[0] === (0x80 | V3_FIELDS) && bytes[1] === FRAME_V3)) {
    let at: number | undefined = 1;
    for (let field = 0; field < HEADER_FIELDS && at !== undefined; field++) at = scalarEnd(bytes, at, bytes.length);
    const ts = at === undefined ? undefined : readHead(bytes, at);
    if (ts !== undefined && ts.major === 2 && ts.value % 8 === 0) return ts.value / 8;
  }
  return decodeFrame(bytes).messages.length;
}

/** Where a well-formed v2 or v3 frame's values section (item `last`) starts: after the header and sections. */
function valuesOffset(bytes: Uint8Array, last: number): number | undefined {
  const array = readHead(bytes, 0);
  let at: number | undefined = array?.next;
  for (let field = 0; field < last && at !== undefined; field++) at = scalarEnd(bytes, at, bytes.length);
  return at;
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
  let end = array.next;
  for (let field = 0; field < HEADER_FIELDS; field++) end = skipScalar(bytes, end, field);
  // the header items re-framed as an array of six, so cbor-x decodes them and nothing after
  const copy = Buffer.allocUnsafe(1 + end - array.next);
  copy[0] = 0x80 | HEADER_FIELDS;
  copy.set(bytes.subarray(array.next, end), 1);
  const raw = decodeCbor(copy) as unknown[];
  const version = checkVersion(raw[0]);
  if (array.value !== FIELDS[version] && !Number.isNaN(array.value)) {
    throw invalid(`a version ${version} frame has ${FIELDS[version]} fields, got ${array.value}`);
  }
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

function checkVersion(version: unknown): number {
  if (version === FRAME_V3 || version === FRAME_V2 || version === FRAME_V1) return version;
  if (typeof version === 'number' && Number.isInteger(version) && version >= 0) {
    throw new FrameError(
      ErrorCodes.FRAME_VERSION,
      `frame version ${version} is not supported: this node reads versions ${FRAME_V1} to ${FRAME_VERSION}`,
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
