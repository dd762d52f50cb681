/**
 * The values encoder's fast path for flat records (shared/src/wire/flat-records.ts) against cbor-x
 * itself: for every batch it takes, byte for byte what cbor-x's record encoder writes; every other
 * batch it leaves to cbor-x (null), and encodeValues' output is always cbor-x's.
 */
import test from 'ava';
import { cborDecoder, valuesEncoder } from '../shared/src/wire/cbor.js';
import { encodeFlatRecords, MAX_KEYS } from '../shared/src/wire/flat-records.js';
import { encodeValues } from '../shared/src/wire/frame-v2.js';

const cborx = (values: unknown[]) => Buffer.from(valuesEncoder.encode(values));

/** A deterministic generator (xorshift) so a failure can be replayed. */
function rng(seed: number) {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 0x1_0000_0000;
  };
}

const NUMBERS = [
  0, -0, 1, 23, 24, 255, 256, 65535, 65536, 0xffff_ffff, 0x1_0000_0000, -1, -24, -25, -256, -257, -65536, -65537,
  -0x8000_0000, -0x8000_0001, -0x1_0000_0000, -0x1_0000_0001, 1.5, -1.5, 24.55, 1e300, -1e-300, Number.MAX_SAFE_INTEGER,
  Number.MIN_SAFE_INTEGER, 1796218945164, NaN, Infinity, -Infinity, 2 ** 53 + 2, 0.1,
];

function scalar(next: () => number): unknown {
  const r = next();
  if (r < 0.35) return NUMBERS[Math.floor(next() * NUMBERS.length)];
  if (r < 0.5) return Math.round((next() - 0.5) * 2 ** (1 + Math.floor(next() * 40)));
  if (r < 0.6) return (next() - 0.5) * 1e6;
  if (r < 0.85) {
    const len = [0, 1, 23, 24, 25, 255, 256, 300, 7, 11][Math.floor(next() * 10)];
    return Array.from({ length: len }, () => String.fromCharCode(32 + Math.floor(next() * 95))).join('');
  }
  if (r < 0.93) return next() < 0.5;
  return null;
}

test('flat batches of one shape: the same bytes as cbor-x, over many generated batches', (t) => {
  const next = rng(20261202);
  let taken = 0;
  for (let b = 0; b < 400; b++) {
    const k = 1 + Math.floor(next() * MAX_KEYS);
    const keys = Array.from({ length: k }, (_, i) => (next() < 0.2 ? `k${i}-${'x'.repeat(Math.floor(next() * 30))}` : `f${i}`));
    const n = [1, 2, 23, 24, 255, 256, 1000, 4096][Math.floor(next() * 8)];
    const values = Array.from({ length: n }, () => Object.fromEntries(keys.map((key) => [key, scalar(next)])));
    const fast = encodeFlatRecords(values);
    t.not(fast, null, `batch ${b} is flat and should take the fast path`);
    if (fast === null) continue;
    t.true(Buffer.from(fast).equals(cborx(values)), `batch ${b}: ${n} records of ${k} keys differ from cbor-x`);
    taken++;
  }
  t.is(taken, 400);
});

test('the fleet\'s readings, batch after batch (the slab fills and is replaced): cbor-x\'s bytes, decodable', (t) => {
  const batch = (b: number, n: number) =>
    Array.from({ length: n }, (_, i) => ({ ts: 1_796_218_945_164 + b * n + i, device: `bench-d${i % 10}`, sensor: 'temperature', value: (2455 + i) / 100, seq: b * n + i }));
  const kept: Array<{ bytes: Buffer; values: unknown[] }> = [];
  for (let b = 0; b < 40; b++) {
    const values = batch(b, 4096);
    const fast = encodeFlatRecords(values);
    t.truthy(fast);
    t.true(Buffer.from(fast!).equals(cborx(values)));
    kept.push({ bytes: Buffer.from(fast!), values });
    if (b % 7 === 0) kept.push({ bytes: fast!, values }); // a view into the slab, checked after later batches
  }
  for (const { bytes, values } of kept) t.deepEqual(cborDecoder.decode(bytes), values, 'earlier batches are not overwritten');
});

test('a batch larger than the slab (1 MiB) moves to a bigger one and still takes the fast path', (t) => {
  const values = Array.from({ length: 4096 }, (_, i) => ({ ts: i, note: `${i}:${'n'.repeat(400)}` }));
  const fast = encodeFlatRecords(values);
  t.not(fast, null);
  t.true(fast!.length > 1024 * 1024);
  t.true(Buffer.from(fast!).equals(cborx(values)));
});

test('anything else goes to cbor-x: null here, and encodeValues writes cbor-x\'s bytes', (t) => {
  const others: unknown[][] = [
    [],
    [1, 2, 3],
    ['a'],
    [null],
    [{}],
    [{ a: 1 }, { b: 1 }],
    [{ a: 1, b: 2 }, { b: 2, a: 1 }],
    [{ a: 1 }, { a: 1, b: 2 }],
    [{ a: 1, b: 2 }, { a: 1 }],
    [{ a: 'é' }],
    [{ a: '\u{1F600}' }],
    [{ a: undefined }],
    [{ a: 1n }],
    [{ a: { nested: 1 } }],
    [{ a: [1, 2] }],
    [{ a: new Date(0) }],
    [{ a: new Uint8Array([1, 2]) }],
    [new Map([['a', 1]])],
    [Object.assign(Object.create({ inherited: 1 }), { a: 1 })],
    [Object.fromEntries(Array.from({ length: MAX_KEYS + 1 }, (_, i) => [`k${i}`, i]))],
    [{ a: 'x'.repeat(0x10000) }],
    [{ a: 1 }, 'not an object'],
  ];
  for (const [i, values] of others.entries()) {
    t.is(encodeFlatRecords(values), null, `case ${i} is not flat`);
    t.true(Buffer.from(encodeValues(values).bytes).equals(cborx(values)), `case ${i}: encodeValues is cbor-x's`);
  }
  class Reading {
    constructor(readonly ts: number) {}
  }
  t.is(encodeFlatRecords([new Reading(1)]), null, 'a class instance');
});

test('a record with integer-like keys (for...in puts them first) and the largest shape: cbor-x\'s order and bytes', (t) => {
  const values = [{ b: 1, 2: 'two', a: 3, 1: 'one' }, { b: 4, 2: 'x', a: 5, 1: 'y' }];
  t.true(Buffer.from(encodeFlatRecords(values)!).equals(cborx(values)));
  const wide = [Object.fromEntries(Array.from({ length: MAX_KEYS }, (_, i) => [`key-${i}`, i * 1000.5]))];
  t.true(Buffer.from(encodeFlatRecords(wide)!).equals(cborx(wide)));
});

test('interleaved with cbor-x\'s own batches, each stays self-contained', (t) => {
  const flat = [{ ts: 1, v: 'a' }, { ts: 2, v: 'b' }];
  const nested = [{ ts: 1, v: { x: 1 } }];
  const a = Buffer.from(encodeValues(flat).bytes);
  const b = Buffer.from(encodeValues(nested).bytes);
  const c = Buffer.from(encodeValues(flat).bytes);
  t.true(a.equals(c));
  t.true(a.equals(cborx(flat)));
  t.true(b.equals(cborx(nested)));
  t.deepEqual(cborDecoder.decode(c), flat);
});
