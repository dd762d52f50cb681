/**
 * Frame version 2 ("encode once", issue 14): a batch's values are encoded once, stored by the
 * replay log and sent on the wire as the same bytes; version 1 frames (older nodes, older replay
 * logs) still decode. The codec's hostile-input tests are in codec.test.ts.
 */
import { Buffer } from 'node:buffer';
import test from 'ava';
import { Level } from 'level';
import {
  FRAME_VERSION, decodeFrame, decodeFrameWithValues, encodeFrame, encodeFrameV1, encodeValues, frameMessageCount, peekFrameHeader,
  type EncodedValues, type Frame,
} from '../shared/src/wire/codec.js';
import { ErrorCodes, FrameError } from '../shared/src/api/errors.js';
import type { Message } from '../shared/src/api/message.js';
import { cborEncoder } from '../shared/src/wire/cbor.js';
import { LevelReplayLog } from '../shared/src/store/level-replay-log.js';
import type { LoggedBatch } from '../shared/src/store/replay-log.js';
import { RemoteChannel } from '../shared/src/runtime/remote-channel.js';
import { Router } from '../shared/src/runtime/router.js';
import { ChainTask } from '../shared/src/api/operators/chain-task.js';
import { filterOperator, keyByOperator, mapOperator } from '../shared/src/api/operators/stateless.js';
import type { TaskContext } from '../shared/src/api/task/task.js';
import { ForwardPartitioner } from '../shared/src/api/partitioner/forward-partitioner.js';
import { tempDir } from './helpers/tmp.js';

const T0 = 1_700_000_000_000;

function frameOf(messages: Message[]): Frame {
  return { app: 'plant', epoch: 2, sender: 5, firstSeq: 10, clock: T0 + 500, messages };
}

const readings = (n: number, keyed = false): Message[] =>
  Array.from({ length: n }, (_, i) => ({ ts: T0 + i, ...(keyed ? { key: `d${i % 3}` } : {}), value: { device: `d${i % 3}`, t: 20 + i / 10, seq: i } }));

test('nodes send version 2 without keys (version 3 is only for keys that repeat); it round-trips with and without keys', (t) => {
  t.is(FRAME_VERSION, 3);
  const distinct = (n: number): Message[] => Array.from({ length: n }, (_, i) => ({ ts: T0 + i, key: `k${i}`, value: i }));
  for (const messages of [[], readings(5), distinct(40), [{ ts: 1, value: null }, { ts: -2, key: null, value: [1, 'a'] }, { ts: 3, key: 0, value: 1.5 }]]) {
    for (const dictionary of [true, false]) {
      if (dictionary && messages.some((m) => m.key !== undefined) && messages.length < 40) continue;
      const bytes = encodeFrame(frameOf(messages), undefined, null, dictionary);
      t.is(bytes[0], 0x89, 'a CBOR array of nine');
      t.is(bytes[1], 0x02, 'version 2');
      t.deepEqual(decodeFrame(bytes), frameOf(messages));
      const { messages: _, ...header } = frameOf(messages);
      t.deepEqual(peekFrameHeader(bytes), header);
    }
  }
  // keys that repeat go out as version 3, unless the caller asks for version 2 (the replay log)
  t.is(encodeFrame(frameOf(readings(5, true)))[1], 0x03);
  t.is(encodeFrame(frameOf(readings(5, true)), undefined, null, false)[1], 0x02);
});

test('version 1 frames still decode: bytes written by the previous release, and encodeFrameV1', (t) => {
  // encodeFrame of the release before version 2 (commit d543afa), byte for byte
  const old = Buffer.from('870165706c616e7402050afb4278bcfe569f40008282fb4278bcfe56800000b90002666465766963656264316174fb403580000000000083fb4278bcfe568010006178626432', 'hex');
  const expected = frameOf([{ ts: T0, value: { device: 'd1', t: 21.5 } }, { ts: T0 + 1, key: 'd2', value: 'x' }]);
  t.deepEqual(decodeFrame(old), expected);
  t.deepEqual(peekFrameHeader(old).firstSeq, 10);
  t.is(decodeFrameWithValues(old).values, null, 'no reusable values section in version 1');
  t.deepEqual(decodeFrame(encodeFrameV1(frameOf(readings(50, true)))), frameOf(readings(50, true)));
});

test('encode once: values encoded beforehand are written as they are, and the frame is the same bytes', (t) => {
  const messages = readings(100);
  const encoded = encodeValues(messages.map((m) => m.value));
  const reused = encodeFrame(frameOf(messages), undefined, encoded);
  t.deepEqual(Buffer.from(reused), Buffer.from(encodeFrame(frameOf(messages))));
  t.deepEqual(Buffer.from(reused.subarray(reused.length - encoded.bytes.length)), Buffer.from(encoded.bytes), 'the values section ends the frame');
  // keys set on the way (keyBy) do not change the values section
  const keyed = messages.map((m) => ({ ...m, key: (m.value as { device: string }).device }));
  t.deepEqual(decodeFrame(encodeFrame(frameOf(keyed), undefined, encoded)), frameOf(keyed));
});

test('encode once: the bytes are reused only for the very same values; anything else is encoded afresh', (t) => {
  const messages = readings(4);
  // bytes that claim these values but say something else: seeing them decoded proves the reuse
  const marked: EncodedValues = { values: messages.map((m) => m.value), bytes: cborEncoder.encode(['a', 'b', 'c', 'd']) };
  t.deepEqual(decodeFrame(encodeFrame(frameOf(messages), undefined, marked)).messages.map((m) => m.value), ['a', 'b', 'c', 'd']);
  // a filtered batch, equal-looking copies, or another order: not the same values, encoded from the messages
  for (const other of [messages.slice(1), messages.map((m) => ({ ...m, value: { ...(m.value as object) } })), [...messages].reverse()]) {
    t.deepEqual(decodeFrame(encodeFrame(frameOf(other), undefined, marked)), frameOf(other));
  }
});

test('decodeFrameWithValues hands back the values section for sending on', (t) => {
  const messages = readings(20, true);
  const { frame, values } = decodeFrameWithValues(encodeFrame(frameOf(messages)));
  t.deepEqual(frame, frameOf(messages));
  t.truthy(values);
  t.deepEqual(Buffer.from(values!.bytes), Buffer.from(encodeValues(messages.map((m) => m.value)).bytes));
  t.true(frame.messages.every((m, i) => m.value === values!.values[i]), 'the decoded values themselves, to recognise them by');
});

test('version 2 sections that do not fit the values are FRAME_INVALID', (t) => {
  const raw = (ts: unknown, keys: unknown, values: unknown) => cborEncoder.encode([2, 'app', 0, 0, 0, 0, ts, keys, values]);
  const times = (...ts: number[]) => { const b = Buffer.alloc(8 * ts.length); ts.forEach((x, i) => b.writeDoubleLE(x, 8 * i)); return b; };
  const cases: Array<[string, Uint8Array, RegExp]> = [
    ['ts too short', raw(times(1), null, [1, 2]), /^ts must be a byte string/],
    ['ts not bytes', raw([1, 2], null, [1, 2]), /^ts must be a byte string/],
    ['ts not an integer', raw(times(1, 1.5), null, [1, 2]), /messages\[1\]\.ts must be a safe integer/],
    ['ts NaN', raw(times(NaN), null, [1]), /messages\[0\]\.ts/],
    ['keys not bytes', raw(times(1), ['k'], [1]), /^keys must be null or a byte string/],
    ['keys miscounted', raw(times(1, 2), Buffer.from(cborEncoder.encode(['k'])), [1, 2]), /^keys must be an array of 2/],
    ['keys not CBOR', raw(times(1), Buffer.from([0x9a, 0xff]), [1]), /^keys is not well-formed CBOR/],
    ['values not an array', raw(times(), null, 'x'), /^values must be an array/],
    ['eight fields', cborEncoder.encode([2, 'app', 0, 0, 0, 0, times(), null]), /has 9 fields, got 8/],
  ];
  for (const [name, bytes, message] of cases) t.throws(() => decodeFrame(bytes), { instanceOf: FrameError, code: ErrorCodes.FRAME_INVALID, message }, name);
});

test('the replay log stores the encoded values and reads them back for sending on; version 1 batches still read', async (t) => {
  const dir = await tempDir();
  t.teardown(dir.cleanup);
  // a log written by the previous release: one version 1 frame per batch
  const old = new Level<string, Uint8Array>(`${dir.path}/log`, { valueEncoding: 'view' });
  await old.put('b!s!' + (await import('../shared/src/store/sortable-number.js')).sortableNumber(0), encodeFrameV1({ app: 's', epoch: 0, sender: 0, firstSeq: 0, clock: T0, messages: readings(3) }));
  await old.close();
  const log = new LevelReplayLog(`${dir.path}/log`);
  await log.open();
  t.teardown(() => log.close());
  const records = readings(5);
  const encoded = encodeValues(records.map((r) => r.value));
  t.is(await log.append('s', records, T0 + 5, undefined, encoded), 3);
  const batches: LoggedBatch[] = [];
  for await (const b of log.read('s', 0)) batches.push(b);
  t.deepEqual(batches.map((b) => b.records), [readings(3), records]);
  t.falsy(batches[0].values, 'version 1: nothing to reuse');
  t.deepEqual(Buffer.from(batches[1].values!.bytes), Buffer.from(encoded.bytes));
  t.true(batches[1].records.every((r, i) => r.value === batches[1].values!.values[i]));
});

test('a remote channel reuses the source batch offered by its router, and encodes a filtered one', (t) => {
  const frames: Uint8Array[] = [];
  const channel = new RemoteChannel({ app: 'plant', epoch: 1, sender: 3 }, (bytes) => frames.push(bytes));
  const router = new Router(1024);
  router.addRoute({ partitioner: new ForwardPartitioner(), channels: [channel] });
  const records = readings(10);
  const encoded = encodeValues(records.map((r) => r.value));
  router.origin = encoded;
  for (const r of records) router.output({ ...r, key: 'k' });
  router.flush(T0 + 10);
  router.origin = encoded;
  for (const r of records) if ((r.value as { seq: number }).seq % 2 === 0) router.output(r);
  router.flush(T0 + 20);
  router.origin = null;
  t.is(channel.framesReusingValues, 1);
  t.is(frames.length, 2, 'one frame per input batch: the data goes with the new clock, no clock-only frame after it');
  t.deepEqual(decodeFrame(frames[0]).messages, records.map((r) => ({ ...r, key: 'k' })));
  t.is(decodeFrame(frames[0]).clock, T0 + 10);
  t.deepEqual(decodeFrame(frames[1]).messages, records.filter((_, i) => i % 2 === 0));
});

test('chains of keyBy and filter pass values through; a map does not', (t) => {
  const ctx = { output() {} } as unknown as TaskContext;
  t.true(new ChainTask(ctx, []).passesValuesThrough);
  t.true(new ChainTask(ctx, [filterOperator(() => true), keyByOperator((v) => v)]).passesValuesThrough);
  t.false(new ChainTask(ctx, [keyByOperator((v) => v), mapOperator((v) => v)]).passesValuesThrough);
});

test('frameMessageCount reads the count of a version 2 frame from its event-time section, and decodes version 1', (t) => {
  for (const n of [0, 1, 23, 24, 1000]) {
    t.is(frameMessageCount(encodeFrame(frameOf(readings(n, n % 2 === 0)))), n);
    t.is(frameMessageCount(encodeFrameV1(frameOf(readings(n)))), n);
  }
  t.throws(() => frameMessageCount(Buffer.from([0x89, 0x04])), { instanceOf: FrameError, code: ErrorCodes.FRAME_VERSION });
  t.throws(() => frameMessageCount(Buffer.from([0x89, 0x02, 0x61])), { instanceOf: FrameError });
});
