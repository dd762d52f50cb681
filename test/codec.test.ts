import { Buffer } from 'node:buffer';
import test, { type ExecutionContext } from 'ava';
import {
  DEFAULT_FRAME_LIMITS,
  FRAME_VERSION,
  MAX_APP_LENGTH,
  MAX_CBOR_ITEMS,
  cborDecoder,
  cborEncoder,
  decodeFrame,
  encodeFrame,
  encodeFrameV1,
  encodeValues,
  peekFrameHeader,
  type Frame,
  type FrameHeader,
} from '../shared/src/wire/codec.js';
import { Encoder } from 'cbor-x';
import { ErrorCodes, FrameError, type ErrorCode } from '../shared/src/api/errors.js';
import type { Message } from '../shared/src/api/message.js';

const T0 = 1_700_000_000_000;

function frameOf(messages: Message[], header: Partial<FrameHeader> = {}): Frame {
  return { app: 'fleet-demo', epoch: 3, sender: 12, firstSeq: 40, clock: T0, ...header, messages };
}

/** Version 1, which nodes no longer send but still decode: most hostile-input tests use its layout. */
const V1 = 1;

/** The raw wire array, for frames encodeFrame refuses to write. */
function rawFrame(fields: unknown[]): Buffer {
  return cborEncoder.encode(fields);
}

/** A valid header followed by `[[0, <value bytes>]]`, for hostile values cbor-x would not write. */
function frameWithValueBytes(value: ArrayLike<number>): Buffer {
  const header = Buffer.from(rawFrame([V1, 'app', 0, 0, 0, 0]));
  header[0] = 0x87; // the same array, announced with the messages field still to come
  return Buffer.concat([header, Buffer.from([0x81, 0x82, 0x00]), Buffer.from(value)]);
}

function throwsFrameError(t: ExecutionContext, fn: () => unknown, code: ErrorCode, message?: RegExp): void {
  t.throws(fn, { instanceOf: FrameError, code, ...(message ? { message } : {}) });
}

function roundTrip(t: ExecutionContext, frame: Frame): Frame {
  const decoded = decodeFrame(encodeFrame(frame));
  t.deepEqual(decoded, frame);
  return decoded;
}

// ---------------------------------------------------------------- round trips

test('an empty batch round-trips', (t) => {
  roundTrip(t, frameOf([]));
});

test('messages with and without keys round-trip, and keyless ones get no key property', (t) => {
  const decoded = roundTrip(t, frameOf([
    { ts: T0, value: 1 },
    { ts: T0 + 1, key: 'dev-1', value: 2 },
    { ts: T0 + 2, key: 0, value: 3 },
    { ts: T0 + 3, key: '', value: 4 },
    { ts: T0 + 4, key: null, value: null },
    { ts: T0 + 5, key: { site: 'a', n: [1, 2] }, value: false },
  ]));
  t.false('key' in decoded.messages[0]);
  t.true('key' in decoded.messages[4]);
});

test('a key set to undefined is written as no key', (t) => {
  const decoded = decodeFrame(encodeFrame(frameOf([{ ts: 1, key: undefined, value: 'v' }])));
  t.deepEqual(decoded.messages, [{ ts: 1, value: 'v' }]);
  t.false('key' in decoded.messages[0]);
});

test('nested values, unicode strings and Buffers round-trip', (t) => {
  roundTrip(t, frameOf([
    { ts: 1, value: { a: { b: { c: [1, [2, [3, { d: 'deep' }]]] } }, list: [], obj: {} } },
    { ts: 2, key: 'Grüße, 東京 🚀', value: 'e\u0301 \u{1F600} \u0000 null char and עברית' },
    { ts: 3, value: Buffer.from([0, 1, 2, 253, 254, 255]) },
    { ts: 4, value: { raw: Buffer.alloc(0), bytes: Buffer.from('abc') } },
    { ts: 5, value: [1.5, -0.25, 2 ** 60, -(2 ** 31), Number.MAX_SAFE_INTEGER, true, null, undefined] },
    { ts: 6, value: 12345678901234567890n },
    { ts: 7, value: new Date(T0) },
  ]));
});

test('negative, zero and extreme timestamps round-trip', (t) => {
  roundTrip(t, frameOf([
    { ts: 0, value: 'epoch' },
    { ts: -1, value: 'before epoch' },
    { ts: -T0, value: 'long before' },
    { ts: Number.MAX_SAFE_INTEGER, value: 'max' },
    { ts: Number.MIN_SAFE_INTEGER, value: 'min' },
  ]));
});

test('clock +Infinity, -Infinity and negative integers round-trip', (t) => {
  roundTrip(t, frameOf([], { clock: Infinity }));
  roundTrip(t, frameOf([], { clock: -Infinity }));
  roundTrip(t, frameOf([{ ts: -5, value: 1 }], { clock: -5 }));
});

test('header fields at their limits round-trip', (t) => {
  const max = Number.MAX_SAFE_INTEGER;
  roundTrip(t, frameOf([], { app: 'ü'.repeat(MAX_APP_LENGTH), epoch: max, sender: max, firstSeq: max, clock: max }));
  roundTrip(t, frameOf([], { app: 'a', epoch: 0, sender: 0, firstSeq: 0, clock: 0 }));
});

test('a frame of exactly maxMessages messages and maxFrameBytes bytes decodes', (t) => {
  const messages = Array.from({ length: 5 }, (_, i) => ({ ts: i, value: i }));
  const bytes = encodeFrame(frameOf(messages));
  t.is(decodeFrame(bytes, { maxMessages: 5, maxFrameBytes: bytes.length }).messages.length, 5);
});

test('decoding a plain Uint8Array gives Buffers that do not alias the input', (t) => {
  const encoded = encodeFrame(frameOf([{ ts: 1, value: Buffer.from('hello') }]));
  const bytes = new Uint8Array(encoded); // a copy, and not a Buffer
  const value = decodeFrame(bytes).messages[0].value as Buffer;
  t.true(Buffer.isBuffer(value));
  bytes.fill(0);
  t.is(value.toString(), 'hello');
});

test('the default limits are 16 MiB and 100k messages', (t) => {
  t.deepEqual({ ...DEFAULT_FRAME_LIMITS }, { maxFrameBytes: 16 * 1024 * 1024, maxMessages: 100_000 });
  t.true(DEFAULT_FRAME_LIMITS.maxMessages <= MAX_CBOR_ITEMS);
});

// ---------------------------------------------------------------- decode errors

test('a frame over maxFrameBytes is FRAME_TOO_LARGE, checked before decoding', (t) => {
  const bytes = encodeFrame(frameOf([{ ts: 1, value: 'x'.repeat(100) }]));
  throwsFrameError(t, () => decodeFrame(bytes, { maxFrameBytes: bytes.length - 1 }), ErrorCodes.FRAME_TOO_LARGE);
  // garbage that would be FRAME_INVALID if it were decoded
  throwsFrameError(t, () => decodeFrame(Buffer.alloc(64, 0xff), { maxFrameBytes: 63 }), ErrorCodes.FRAME_TOO_LARGE);
});

test('bytes that are not a 7-item CBOR array are FRAME_INVALID', (t) => {
  const good = encodeFrame(frameOf([{ ts: 1, key: 'k', value: { a: 1 } }]));
  const cases: Array<[string, Uint8Array]> = [
    ['empty input', new Uint8Array(0)],
    ['a map', rawFrame({ version: 1 } as unknown as unknown[])],
    ['a number', rawFrame(1 as unknown as unknown[])],
    ['an empty array', rawFrame([])],
    ['6 fields', rawFrame([1, 'app', 0, 0, 0, 0])],
    ['8 fields', rawFrame([1, 'app', 0, 0, 0, 0, [], 'extra'])],
    ['garbage', Buffer.from('this is not cbor at all, just text')],
    ['a stray break', Buffer.from([0xff])],
    ['truncated by one byte', good.subarray(0, good.length - 1)],
    ['truncated in the header', good.subarray(0, 5)],
    ['a trailing byte', Buffer.concat([good, Buffer.from([0x00])])],
    ['two frames back to back', Buffer.concat([good, good])],
  ];
  for (const [name, bytes] of cases) {
    t.throws(() => decodeFrame(bytes), { instanceOf: FrameError, code: ErrorCodes.FRAME_INVALID }, name);
  }
});

test('cbor-x failures are wrapped with their cause', (t) => {
  const good = encodeFrame(frameOf([{ ts: 1, value: 1.5 }]));
  const err = t.throws(() => decodeFrame(good.subarray(0, good.length - 3)), { instanceOf: FrameError });
  t.is(err?.code, ErrorCodes.FRAME_INVALID);
  t.true(err?.cause instanceof Error);
});

test('another version is FRAME_VERSION, naming the version seen and the one supported', (t) => {
  throwsFrameError(t, () => decodeFrame(rawFrame([4, 'app', 0, 0, 0, 0, []])), ErrorCodes.FRAME_VERSION, /version 4\b.*versions 1 to 3\b/);
  throwsFrameError(t, () => decodeFrame(rawFrame([0, 'app', 0, 0, 0, 0, []])), ErrorCodes.FRAME_VERSION, /version 0\b/);
  // a future layout: more fields, and bytes this version cannot make sense of
  const future = Buffer.concat([rawFrame([7, 'app', { new: 'field' }, 0, 0, 0, 0, [], 9]), Buffer.from([0xff, 0x1c])]);
  throwsFrameError(t, () => decodeFrame(future), ErrorCodes.FRAME_VERSION, /version 7\b/);
});

test('a version that is not an unsigned integer is FRAME_INVALID', (t) => {
  for (const version of ['1', -1, null, 1.5]) {
    t.throws(() => decodeFrame(rawFrame([version, 'app', 0, 0, 0, 0, []])), {
      instanceOf: FrameError,
      code: ErrorCodes.FRAME_INVALID,
      message: /version/,
    }, String(version));
  }
});

test('bad header fields are FRAME_INVALID naming the field', (t) => {
  const header = { app: 'app', epoch: 0, sender: 0, firstSeq: 0, clock: 0 };
  const cases: Array<[keyof FrameHeader, unknown]> = [
    ['app', ''], ['app', 'x'.repeat(MAX_APP_LENGTH + 1)], ['app', 5], ['app', null],
    ['epoch', -1], ['epoch', 1.5], ['epoch', '1'], ['epoch', 2 ** 53], ['epoch', Infinity],
    ['sender', -1], ['sender', 0.5], ['sender', null],
    ['firstSeq', -3], ['firstSeq', 2 ** 60], ['firstSeq', [1]],
    ['clock', NaN], ['clock', 1.5], ['clock', null], ['clock', '0'], ['clock', 2 ** 53],
  ];
  for (const [field, value] of cases) {
    const h: Record<string, unknown> = { ...header, [field]: value };
    const bytes = rawFrame([V1, h.app, h.epoch, h.sender, h.firstSeq, h.clock, []]);
    t.throws(() => decodeFrame(bytes), {
      instanceOf: FrameError,
      code: ErrorCodes.FRAME_INVALID,
      message: new RegExp(`^${field} must be`),
    }, `${field} = ${String(value)}`);
  }
});

test('bad messages are FRAME_INVALID naming the message index', (t) => {
  const frame = (messages: unknown) => rawFrame([V1, 'app', 0, 0, 0, 0, messages]);
  const cases: Array<[unknown, RegExp]> = [
    [{ 0: [1, 2] }, /^messages must be an array/],
    ['[]', /^messages must be an array/],
    [[[1, 'ok'], 5], /^messages\[1\] must be an array/],
    [[[1, 'ok'], [1, 'ok'], [2]], /^messages\[2\] must be an array/],
    [[[1, 'v', 'k', 'extra']], /^messages\[0\] must be an array/],
    [[[1.5, 'v']], /^messages\[0\]\.ts must be a safe integer/],
    [[[1, 'v'], ['5', 'v']], /^messages\[1\]\.ts must be a safe integer/],
    [[[NaN, 'v']], /^messages\[0\]\.ts/],
    [[[2 ** 53, 'v']], /^messages\[0\]\.ts/],
    [[[Infinity, 'v']], /^messages\[0\]\.ts/],
    [[[5n, 'v']], /^messages\[0\]\.ts/], // cbor-x writes 5n as a 64-bit integer, which decodes as a bigint
  ];
  for (const [messages, message] of cases) {
    t.throws(() => decodeFrame(frame(messages)), { instanceOf: FrameError, code: ErrorCodes.FRAME_INVALID, message });
  }
});

test('more messages than maxMessages is FRAME_INVALID', (t) => {
  const bytes = encodeFrame(frameOf([1, 2, 3].map((ts) => ({ ts, value: ts }))));
  throwsFrameError(t, () => decodeFrame(bytes, { maxMessages: 2 }), ErrorCodes.FRAME_INVALID, /3 messages.*limit of 2/);
});

test('limits outside their range are a TypeError', (t) => {
  const bytes = encodeFrame(frameOf([]));
  t.throws(() => decodeFrame(bytes, { maxMessages: MAX_CBOR_ITEMS + 1 }), { instanceOf: TypeError });
  t.throws(() => decodeFrame(bytes, { maxFrameBytes: 0 }), { instanceOf: TypeError });
  t.throws(() => decodeFrame(bytes, { maxMessages: 1.5 }), { instanceOf: TypeError });
  t.throws(() => decodeFrame('not bytes' as unknown as Uint8Array), { instanceOf: TypeError });
});

// ---------------------------------------------------------------- encode errors

test('encodeFrame refuses invalid frames with a TypeError', (t) => {
  const ok = frameOf([{ ts: 1, value: { list: [1, 2], text: 'x'.repeat(5_000) } }]);
  const cyclic: Record<string, unknown> = { a: 1 };
  cyclic.self = cyclic;
  const cases: Array<[string, unknown]> = [
    ['non-integer ts', { ...ok, messages: [{ ts: 1.5, value: 1 }] }],
    ['missing ts', { ...ok, messages: [{ value: 1 }] }],
    ['null message', { ...ok, messages: [null] }],
    ['messages not an array', { ...ok, messages: {} }],
    ['empty app', { ...ok, app: '' }],
    ['negative epoch', { ...ok, epoch: -1 }],
    ['fractional sender', { ...ok, sender: 0.5 }],
    ['NaN clock', { ...ok, clock: NaN }],
    ['unencodable value', { ...ok, messages: [{ ts: 1, value: Symbol('no') }] }],
    ['cyclic value', { ...ok, messages: [{ ts: 1, value: cyclic }] }],
    ['not an object', null],
  ];
  for (const [name, frame] of cases) {
    t.throws(() => encodeFrame(frame as Frame), { instanceOf: TypeError }, name);
  }
  roundTrip(t, ok); // a failed encode leaves the shared encoder usable
});

test('encodeFrame refuses a frame over the limits with a RangeError', (t) => {
  const messages = [1, 2, 3].map((ts) => ({ ts, value: 'x'.repeat(50) }));
  t.throws(() => encodeFrame(frameOf(messages), { maxMessages: 2 }), { instanceOf: RangeError });
  t.throws(() => encodeFrame(frameOf(messages), { maxFrameBytes: 100 }), { instanceOf: RangeError });
});

// ---------------------------------------------------------------- header peek

test('peekFrameHeader reads the header of an encoded frame', (t) => {
  const header: FrameHeader = { app: 'ä'.repeat(MAX_APP_LENGTH), epoch: 9, sender: 2 ** 40, firstSeq: 70_000, clock: -Infinity };
  t.deepEqual(peekFrameHeader(encodeFrame({ ...header, messages: [{ ts: 1, key: 'k', value: { a: 1 } }] })), header);
});

test('peekFrameHeader throws the same codes for bad headers', (t) => {
  throwsFrameError(t, () => peekFrameHeader(rawFrame([4, 'app', 0, 0, 0, 0, []])), ErrorCodes.FRAME_VERSION);
  throwsFrameError(t, () => peekFrameHeader(rawFrame([1, '', 0, 0, 0, 0, []])), ErrorCodes.FRAME_INVALID, /^app/);
  throwsFrameError(t, () => peekFrameHeader(rawFrame([1, 'app', -1, 0, 0, 0, []])), ErrorCodes.FRAME_INVALID, /^epoch/);
  throwsFrameError(t, () => peekFrameHeader(rawFrame([1, 'app', 0, 0, 0, [0], []])), ErrorCodes.FRAME_INVALID, /clock/);
  throwsFrameError(t, () => peekFrameHeader(rawFrame([1, 'app', 0, 0])), ErrorCodes.FRAME_INVALID);
  throwsFrameError(t, () => peekFrameHeader(Buffer.from([0x87, 0x01, 0x7b, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff])), ErrorCodes.FRAME_INVALID);
});

// ---------------------------------------------------------------- hostile input

test('array headers claiming 2^32 items are FRAME_INVALID', (t) => {
  const heads = [
    [0x9b, 0, 0, 0, 1, 0, 0, 0, 0], // 2^32, as a 64-bit length
    [0x9a, 0xff, 0xff, 0xff, 0xff], // 2^32 - 1
    [0x9b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
    [0xbb, 0, 0, 0, 1, 0, 0, 0, 0], // a map of 2^32 entries
  ];
  for (const head of heads) {
    throwsFrameError(t, () => decodeFrame(Buffer.from([...head, 0])), ErrorCodes.FRAME_INVALID);
    throwsFrameError(t, () => decodeFrame(frameWithValueBytes(head)), ErrorCodes.FRAME_INVALID);
  }
  // the same as the frame's own array and as its message list
  throwsFrameError(t, () => decodeFrame(Buffer.from([0x9a, 0xff, 0xff, 0xff, 0xff, 0x01])), ErrorCodes.FRAME_INVALID);
  const header = Buffer.from(rawFrame([V1, 'app', 0, 0, 0, 0]));
  header[0] = 0x87;
  throwsFrameError(t, () => decodeFrame(Buffer.concat([header, Buffer.from([0x9a, 0xff, 0xff, 0xff, 0xff])])), ErrorCodes.FRAME_INVALID);
});

test('huge byte and text string length prefixes are FRAME_INVALID', (t) => {
  const heads = [
    [0x5b, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff],
    [0x5b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
    [0x5a, 0xff, 0xff, 0xff, 0xff],
    [0x7b, 0, 0, 0, 0, 0x7f, 0xff, 0xff, 0xff],
    [0x7a, 0xff, 0xff, 0xff, 0xff, 0x61],
  ];
  for (const head of heads) {
    throwsFrameError(t, () => decodeFrame(frameWithValueBytes(head)), ErrorCodes.FRAME_INVALID);
    throwsFrameError(t, () => decodeFrame(Buffer.from(head)), ErrorCodes.FRAME_INVALID);
  }
});

test('deep nesting is FRAME_INVALID, not a stack overflow', (t) => {
  const depth = 100_000;
  const nests: Array<[string, Buffer]> = [
    ['arrays', Buffer.concat([Buffer.alloc(depth, 0x81), Buffer.from([0x00])])],
    ['indefinite arrays', Buffer.alloc(depth, 0x9f)],
    ['maps', Buffer.concat([Buffer.from(Array.from({ length: depth }, (_, i) => (i % 2 ? 0x00 : 0xa1))), Buffer.from([0x00])])],
    ['tags 259', Buffer.concat([Buffer.alloc(depth * 3).map((_, i) => [0xd9, 0x01, 0x03][i % 3]), Buffer.from([0x00])])],
  ];
  for (const [name, nest] of nests) {
    const err = t.throws(() => decodeFrame(frameWithValueBytes(nest)), { instanceOf: FrameError }, name);
    t.is(err?.code, ErrorCodes.FRAME_INVALID, name);
    throwsFrameError(t, () => decodeFrame(nest), ErrorCodes.FRAME_INVALID);
  }
  const err = t.throws(() => decodeFrame(frameWithValueBytes(nests[0][1])), { instanceOf: FrameError });
  t.true(err?.cause instanceof RangeError);
});

test('packed values and shared references are refused', (t) => {
  // a packed table whose prefix array cbor-x would copy on every reference: 75 KB -> 2.5 GB
  const prefixLength = 60_000;
  const references = 5_000;
  const packed = [
    0xd8, 0x33, 0x84, 0x81, 0x00,
    0x82, 0x00, 0x99, prefixLength >> 8, prefixLength & 0xff, ...new Array<number>(prefixLength).fill(0),
    0x80,
    0x99, references >> 8, references & 0xff, ...Array.from({ length: references }, () => [0xd8, 0xe1, 0x80]).flat(),
  ];
  throwsFrameError(t, () => decodeFrame(frameWithValueBytes(packed)), ErrorCodes.FRAME_INVALID);
  throwsFrameError(t, () => decodeFrame(frameWithValueBytes([0xe0])), ErrorCodes.FRAME_INVALID); // a packed reference
  // tag 28 marks a shareable value, tag 29 points back at it: a cycle
  throwsFrameError(t, () => decodeFrame(frameWithValueBytes([0xd8, 0x1c, 0x80])), ErrorCodes.FRAME_INVALID, /tag 28/);
  throwsFrameError(t, () => decodeFrame(frameWithValueBytes([0xd8, 0x1c, 0x81, 0xd8, 0x1d, 0x00])), ErrorCodes.FRAME_INVALID, /tag 2[89]/);
  throwsFrameError(t, () => decodeFrame(frameWithValueBytes([0xd8, 0x1d, 0x00])), ErrorCodes.FRAME_INVALID, /tag 29/);
});

test('a 2 MiB bignum decodes in linear time and to the right value', (t) => {
  // cbor-x's own bignum loop is quadratic: this input would take minutes and hit the test timeout
  const length = 2 * 1024 * 1024;
  const bignum = Buffer.alloc(length + 6, 0xff);
  bignum[0] = 0xc2; // tag 2, positive bignum
  bignum[1] = 0x5a; // byte string with a 32-bit length
  bignum.writeUInt32BE(length, 2);
  const value = decodeFrame(frameWithValueBytes(bignum)).messages[0].value;
  t.true(value === (1n << BigInt(8 * length)) - 1n);
  bignum[0] = 0xc3; // tag 3, negative bignum: -1 - n
  t.true(decodeFrame(frameWithValueBytes(bignum)).messages[0].value === -(1n << BigInt(8 * length)));
  t.is(decodeFrame(frameWithValueBytes([0xc2, 0x40])).messages[0].value, 0n);
  throwsFrameError(t, () => decodeFrame(frameWithValueBytes([0xc2, 0x01])), ErrorCodes.FRAME_INVALID);
});

test('hostile input leaves the decoder working: maps still decode to plain objects', (t) => {
  // tag 259 switches cbor-x to Map decoding until the next map; here no map follows
  throwsFrameError(t, () => decodeFrame(frameWithValueBytes([0xd9, 0x01, 0x03, 0x81])), ErrorCodes.FRAME_INVALID);
  decodeFrame(frameWithValueBytes([0xd9, 0x01, 0x03, 0x01]));
  throwsFrameError(t, () => decodeFrame(frameWithValueBytes(Buffer.alloc(100_000, 0x81))), ErrorCodes.FRAME_INVALID);
  const value = decodeFrame(encodeFrame(frameOf([{ ts: 1, value: { a: { b: 1 } } }]))).messages[0].value;
  t.is(Object.getPrototypeOf(value), Object.prototype);
  t.deepEqual(value, { a: { b: 1 } });
});

// ---------------------------------------------------------------- fuzz

/** mulberry32: a tiny deterministic PRNG, so a failure names a reproducible seed and iteration. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let r = Math.imul(a ^ (a >>> 15), 1 | a);
    r = (r + Math.imul(r ^ (r >>> 7), 61 | r)) ^ r;
    return ((r ^ (r >>> 14)) >>> 0) / 4294967296;
  };
}

/** Bytes that make CBOR parsers take their rarer paths: long lengths, indefinite items, tags, breaks. */
const INTERESTING = [0x00, 0x17, 0x18, 0x1b, 0x20, 0x3b, 0x40, 0x5b, 0x5f, 0x60, 0x7b, 0x7f, 0x80, 0x9b, 0x9f,
  0xa0, 0xbb, 0xbf, 0xc0, 0xc2, 0xd8, 0xd9, 0xda, 0xdb, 0xe0, 0xf4, 0xf7, 0xf9, 0xfa, 0xfb, 0xff];

type Mutation = (bytes: Uint8Array, random: () => number) => Uint8Array;

function mutations(): Array<[string, Mutation]> {
  const at = (n: number, random: () => number) => Math.floor(random() * n);
  const randomBytes = (n: number, random: () => number) => Uint8Array.from({ length: n }, () => at(256, random));
  // a real copy: Buffer#slice would be a view, and mutating it would corrupt the corpus
  const copy = (b: Uint8Array) => new Uint8Array(b);
  return [
    ['bit flip', (b, r) => { const c = copy(b); if (c.length) c[at(c.length, r)] ^= 1 << at(8, r); return c; }],
    ['byte replacement', (b, r) => { const c = copy(b); if (c.length) c[at(c.length, r)] = at(256, r); return c; }],
    ['interesting byte', (b, r) => { const c = copy(b); if (c.length) c[at(c.length, r)] = INTERESTING[at(INTERESTING.length, r)]; return c; }],
    ['truncation', (b, r) => copy(b.subarray(0, at(b.length + 1, r)))],
    ['insertion', (b, r) => { const i = at(b.length + 1, r); return Buffer.concat([b.subarray(0, i), randomBytes(1 + at(8, r), r), b.subarray(i)]); }],
    ['duplicated slice', (b, r) => {
      const start = at(b.length + 1, r);
      const slice = b.subarray(start, start + at(32, r));
      const i = at(b.length + 1, r);
      return Buffer.concat([b.subarray(0, i), slice, b.subarray(i)]);
    }],
    ['random bytes', (_, r) => randomBytes(at(64, r), r)],
  ];
}

function corpus(): Uint8Array[] {
  return [
    frameOf([]),
    frameOf([{ ts: T0, value: 1 }, { ts: T0 + 1, key: 'k', value: 'v' }]),
    frameOf([{ ts: -1, key: { a: [1, 2] }, value: { t: 21.5, h: 40, ok: true, tags: ['x', 'y'] } }], { clock: Infinity }),
    frameOf([{ ts: 7, value: Buffer.from([1, 2, 3, 4]) }, { ts: 8, value: [null, undefined, false, 2 ** 40, -3.25] }], { clock: -Infinity }),
    frameOf(Array.from({ length: 20 }, (_, i) => ({ ts: T0 + i, key: `dev-${i % 3}`, value: { n: i, s: 'é'.repeat(i) } }))),
  ].flatMap((frame) => [new Uint8Array(encodeFrame(frame)), new Uint8Array(encodeFrame(frame, undefined, null, false)), new Uint8Array(encodeFrameV1(frame))]);
}

/** Checked independently of the codec's own validation. */
function frameProblem(frame: Frame): string | undefined {
  const count = (n: unknown) => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;
  if (typeof frame.app !== 'string' || frame.app.length < 1 || frame.app.length > MAX_APP_LENGTH) return 'app';
  if (!count(frame.epoch) || !count(frame.sender) || !count(frame.firstSeq)) return 'epoch/sender/firstSeq';
  if (typeof frame.clock !== 'number' || !(Number.isSafeInteger(frame.clock) || Math.abs(frame.clock) === Infinity)) return 'clock';
  if (!Array.isArray(frame.messages) || frame.messages.length > DEFAULT_FRAME_LIMITS.maxMessages) return 'messages';
  for (const m of frame.messages) {
    if (typeof m !== 'object' || m === null || !Number.isSafeInteger(m.ts)) return 'message ts';
    if ('key' in m && m.key === undefined) return 'message key';
  }
  return undefined;
}

test('fuzz: mutated frames decode to valid frames or throw FrameError, never anything else', (t) => {
  const seed = 0x7a1b;
  const iterations = 6_000;
  const random = mulberry32(seed);
  const bases = corpus();
  const kinds = mutations();
  const failures: string[] = [];
  const outcomes = new Map<string, number>();
  const note = (outcome: string) => outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);

  for (let i = 0; i < iterations; i++) {
    let bytes = bases[Math.floor(random() * bases.length)];
    const applied: string[] = [];
    for (let n = 1 + Math.floor(random() * 3); n > 0; n--) {
      const [name, mutate] = kinds[Math.floor(random() * kinds.length)];
      bytes = mutate(bytes, random);
      applied.push(name);
    }
    const where = `seed ${seed} iteration ${i} (${applied.join(', ')}): ${Buffer.from(bytes).toString('hex').slice(0, 120)}`;
    let decoded: Frame | undefined;
    try {
      decoded = decodeFrame(bytes);
      const problem = frameProblem(decoded);
      if (problem !== undefined) failures.push(`${where}: decoded an invalid ${problem}`);
      note('decoded');
    } catch (err) {
      if (!(err instanceof FrameError)) failures.push(`${where}: decodeFrame threw ${String(err)}`);
      else note(err.code);
    }
    try {
      const header = peekFrameHeader(bytes);
      if (decoded !== undefined) {
        const fields = ['app', 'epoch', 'sender', 'firstSeq', 'clock'] as const;
        const differ = fields.filter((field) => !Object.is(header[field], decoded?.[field]));
        if (differ.length > 0) failures.push(`${where}: peek and decode disagree on ${differ.join(', ')}`);
      }
    } catch (err) {
      if (!(err instanceof FrameError)) failures.push(`${where}: peekFrameHeader threw ${String(err)}`);
    }
  }

  t.log(Object.fromEntries(outcomes));
  t.deepEqual(failures, []);
  // the fuzz must reach both sides: frames that still decode, and each way of being refused
  t.true((outcomes.get('decoded') ?? 0) > 100, JSON.stringify([...outcomes]));
  t.true((outcomes.get(ErrorCodes.FRAME_INVALID) ?? 0) > 1_000, JSON.stringify([...outcomes]));
  t.true((outcomes.get(ErrorCodes.FRAME_VERSION) ?? 0) > 0, JSON.stringify([...outcomes]));
});

test('the values encoder (cbor-x\'s second build) writes exactly what cbor-x\'s own build writes with the same options', (t) => {
  const reference = new Encoder({ useRecords: true, mapsAsObjects: true });
  const batches: unknown[][] = [
    [{ ts: 1, device: 'd-1', sensor: 'temp', value: 21.5, seq: 0 }, { ts: 2, device: 'd-2', sensor: 'temp', value: -3, seq: 1 }],
    [{ a: 1 }, { b: 'x' }, { a: 2 }, { nested: { deep: [1, 2, { k: null }] }, when: new Date(0) }, 'text', 42, 1.5, null, true, Buffer.from([1, 2, 3])],
    [new Map([['k', 1]]), new Set([1, 2]), [undefined, -0, 2 ** 53, -(2 ** 40)], 'ünïcödé ✓', new Uint8Array([9, 8])],
  ];
  for (const values of batches) {
    const ours = encodeValues(values).bytes;
    t.deepEqual(Buffer.from(ours), Buffer.from(reference.encode(values)));
    t.deepEqual(cborDecoder.decode(ours), cborDecoder.decode(reference.encode(values)));
  }
});
