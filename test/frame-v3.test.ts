/**
 * Frame version 3 (issue 14): version 2 with the keys as a dictionary of the distinct keys and an
 * index per message. What a receiver decodes is the same as from version 2, for every kind of key;
 * hostile dictionary and index sections are FRAME_INVALID. Version 2 is in frame-v2.test.ts.
 */
import { Buffer } from 'node:buffer';
import test from 'ava';
import { Level } from 'level';
import { decodeFrame, decodeFrameWithValues, encodeFrame, encodeValues, frameMessageCount, peekFrameHeader, type Frame } from '../shared/src/wire/codec.js';
import { cborDecoder, cborEncoder } from '../shared/src/wire/cbor.js';
import { ErrorCodes, FrameError } from '../shared/src/api/errors.js';
import type { Message } from '../shared/src/api/message.js';
import { LevelReplayLog } from '../shared/src/store/level-replay-log.js';
import { tempDir } from './helpers/tmp.js';

const T0 = 1_700_000_000_000;

function frameOf(messages: Message[]): Frame {
  return { app: 'plant', epoch: 1, sender: 3, firstSeq: 77, clock: T0 + 9, messages };
}

/** `n` readings from `devices` devices, keyed by device, as a keyBy on the edge sends them. */
const fleet = (n: number, devices: number): Message[] =>
  Array.from({ length: n }, (_, i) => {
    const device = `device-${(i * 7) % devices}`;
    return { ts: T0 + i, key: device, value: { device, t: 20 + (i % 10), seq: i } };
  });

/** The raw CBOR items of a frame. */
const itemsOf = (bytes: Uint8Array): unknown[] => cborDecoder.decode(Buffer.from(bytes)) as unknown[];

test('repeated keys go out as version 3: each distinct key once, a byte per message, the same messages decoded', (t) => {
  const messages = fleet(1000, 10);
  const v3 = encodeFrame(frameOf(messages));
  const v2 = encodeFrame(frameOf(messages), undefined, null, false);
  t.is(v3[0], 0x8a, 'a CBOR array of ten');
  t.is(v3[1], 0x03, 'version 3');
  const items = itemsOf(v3);
  t.deepEqual(cborDecoder.decode(items[7] as Buffer), Array.from({ length: 10 }, (_, i) => `device-${(i * 7) % 10}`), 'distinct keys in order of first use');
  t.is((items[8] as Buffer).byteLength, 1000);
  t.true(v3.byteLength < v2.byteLength - 7000, `${v3.byteLength} vs ${v2.byteLength} bytes`);
  t.deepEqual(decodeFrame(v3), frameOf(messages));
  t.deepEqual(decodeFrame(v3), decodeFrame(v2));
  const { messages: _, ...header } = frameOf(messages);
  t.deepEqual(peekFrameHeader(v3), header);
  t.is(frameMessageCount(v3), 1000);
});

test('more than 256 distinct keys take two bytes per message; mostly distinct keys stay version 2', (t) => {
  const wide = fleet(2000, 300);
  const bytes = encodeFrame(frameOf(wide));
  t.is(bytes[1], 0x03);
  t.is((itemsOf(bytes)[8] as Buffer).byteLength, 4000);
  t.deepEqual(decodeFrame(bytes), frameOf(wide));
  const distinct = fleet(1000, 1000);
  const plain = encodeFrame(frameOf(distinct));
  t.is(plain[1], 0x02, 'a dictionary of 1,000 keys for 1,000 messages does not pay');
  t.deepEqual(decodeFrame(plain), frameOf(distinct));
});

test('every kind of key decodes as from version 2: no key, null, numbers, NaN, booleans, strings, arrays, byte strings', (t) => {
  const keys: unknown[] = [undefined, null, 0, -0, NaN, 1.5, -7, 2 ** 53 - 1, true, false, '', 'é', ['a', 1], ['a', 1], Buffer.from([1, 2]), { id: 1 }];
  const messages: Message[] = [...keys, ...keys].map((key, i) => (key === undefined ? { ts: i, value: i } : { ts: i, key, value: i }));
  const bytes = encodeFrame(frameOf(messages));
  t.is(bytes[1], 0x03);
  const decoded = decodeFrame(bytes).messages;
  const asV2 = decodeFrame(encodeFrame(frameOf(messages), undefined, null, false)).messages;
  t.is(decoded.length, messages.length);
  for (let i = 0; i < messages.length; i++) {
    t.is('key' in decoded[i], 'key' in messages[i], `messages[${i}] has a key or not`);
    if (typeof asV2[i].key === 'object' && asV2[i].key !== null) t.deepEqual(decoded[i].key, asV2[i].key);
    else t.true(Object.is(decoded[i].key, asV2[i].key), `messages[${i}].key ${String(messages[i].key)}`);
  }
  t.deepEqual(decoded, frameOf(messages).messages.map((m) => (Object.is(m.key, -0) ? { ...m, key: 0 } : m)), 'CBOR writes -0 as 0, in either version');
  // equal primitives share an entry (0 and -0 too), objects get one each
  const dict = cborDecoder.decode(itemsOf(bytes)[7] as Buffer) as unknown[];
  t.is(dict.length, 11 + 4 * 2);
});

test('version 3 hands back the values section for sending on, and the replay log keeps writing version 2', async (t) => {
  const messages = fleet(200, 5);
  const encoded = encodeValues(messages.map((m) => m.value));
  const bytes = encodeFrame(frameOf(messages), undefined, encoded);
  t.is(bytes[1], 0x03);
  const { frame, values } = decodeFrameWithValues(bytes);
  t.deepEqual(frame, frameOf(messages));
  t.deepEqual(Buffer.from(values!.bytes), Buffer.from(encoded.bytes));

  const { path: dir, cleanup } = await tempDir();
  t.teardown(cleanup);
  const log = new LevelReplayLog(dir);
  await log.open();
  await log.append('src', messages, T0 + 200);
  const read: Message[] = [];
  for await (const batch of log.read('src', 0)) read.push(...batch.records);
  t.deepEqual(read, messages);
  await log.close();
  const db = new Level<string, Uint8Array>(dir, { valueEncoding: 'view' });
  let batches = 0;
  for await (const [, value] of db.iterator({ gt: 'b!src!', lt: 'b!src!~' })) {
    t.is(value[1], 0x02, 'an agent rolled back to a release before version 3 still reads its log');
    batches++;
  }
  await db.close();
  t.is(batches, 1);
});

test('dictionary and index sections that do not fit are FRAME_INVALID', (t) => {
  const times = (n: number) => { const b = Buffer.alloc(8 * n); for (let i = 0; i < n; i++) b.writeDoubleLE(i, 8 * i); return b; };
  const raw = (dict: unknown, index: unknown, values: unknown[]) => cborEncoder.encode([3, 'app', 0, 0, 0, 0, times(values.length), dict, index, values]);
  const dict = (...keys: unknown[]) => Buffer.from(cborEncoder.encode(keys));
  const wideDict = dict(...Array.from({ length: 257 }, (_, i) => i));
  const cases: Array<[string, Uint8Array, RegExp]> = [
    ['dict not bytes', raw(['a'], Buffer.from([0]), [1]), /^dict must be a byte string/],
    ['dict not CBOR', raw(Buffer.from([0x9a, 0xff]), Buffer.from([0]), [1]), /^dict is not well-formed CBOR/],
    ['dict not an array', raw(Buffer.from(cborEncoder.encode('a')), Buffer.from([0]), [1]), /^dict must be an array/],
    ['dict empty', raw(dict(), Buffer.from([0]), [1]), /^dict must be an array of 1 to 1/],
    ['dict longer than the messages', raw(dict('a', 'b', 'c'), Buffer.from([0, 1]), [1, 2]), /^dict must be an array of 1 to 2/],
    ['index not bytes', raw(dict('a'), [0], [1]), /^index must be a byte string of 1 bytes/],
    ['index short', raw(dict('a'), Buffer.from([0]), [1, 2]), /^index must be a byte string of 2 bytes/],
    ['index one byte for a wide dict', raw(wideDict, Buffer.alloc(300), new Array(300).fill(0)), /^index must be a byte string of 600 bytes \(2 per message\)/],
    ['index beyond the dict', raw(dict('a', 'b'), Buffer.from([0, 2]), [1, 2]), /^index of messages\[1\] is 2, beyond the dict of 2/],
    ['wide index beyond the dict', raw(wideDict, Buffer.alloc(600, 0xff), new Array(300).fill(0)), /^index of messages\[0\] is 65535/],
    ['nine fields', cborEncoder.encode([3, 'app', 0, 0, 0, 0, times(0), dict(), Buffer.alloc(0)]), /has 10 fields, got 9/],
  ];
  for (const [name, bytes, message] of cases) t.throws(() => decodeFrame(bytes), { instanceOf: FrameError, code: ErrorCodes.FRAME_INVALID, message }, name);
  // the smallest valid one
  t.deepEqual(decodeFrame(raw(dict('a'), Buffer.from([0]), ['v'])).messages, [{ ts: 0, key: 'a', value: 'v' }]);
});
