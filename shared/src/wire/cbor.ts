import { Buffer } from 'node:buffer';
import { Decoder, Encoder, addExtension, setSizeLimits } from 'cbor-x';
// A second copy of cbor-x's encoder, for valuesEncoder alone (see there).
import { Encoder as RecordsEncoder } from 'cbor-x/index-no-eval';

/**
 * The one cbor-x configuration of Tributary's wire format. Frames are encoded and decoded only
 * through `cborEncoder` / `cborDecoder`; nothing else should construct its own cbor-x codec,
 * because cbor-x keeps its size limits and tag decoders in module-global state, which this
 * module sets once when it loads. Those settings therefore apply to every cbor-x `Decoder` in
 * the process (the ESM build; a CommonJS `require('cbor-x')` is a separate copy).
 *
 * Decoded bytes come from other processes and are untrusted; the hardening below bounds what a
 * single frame can cost. Our encoder never emits the refused tags (no `pack`, no
 * `structuredClone`), so refusing them loses no frame Tributary itself can produce.
 */

/**
 * No array, map or object anywhere in a decoded frame may hold more entries than this; that
 * includes the message list, so it is also the ceiling for `FrameLimits.maxMessages`. A bound
 * per container is what cbor-x offers; objects above ~10^5 keys also get slow to build.
 */
export const MAX_CBOR_ITEMS = 100_000;

setSizeLimits({ maxArraySize: MAX_CBOR_ITEMS, maxMapSize: MAX_CBOR_ITEMS, maxObjectSize: MAX_CBOR_ITEMS });

/** cbor-x registers a decode-only extension when `Class` is absent; its typings do not say so. */
type DecodeOnlyExtension = { tag: number; decode(item: unknown): unknown };
const addDecodeExtension = addExtension as unknown as (extension: DecodeOnlyExtension) => void;

function refuse(tag: number, what: string): DecodeOnlyExtension {
  return {
    tag,
    decode() {
      throw new Error(`CBOR tag ${tag} (${what}) is not accepted on the wire`);
    },
  };
}

/**
 * Tag 51 (packed values): cbor-x copies the prefix array on every reference, so a 75 KB input
 * built 2.5 GB of arrays in 16 s here. Without a packed table, the packed references (tag 6,
 * simple values, prefix/suffix tags) have nothing to point at and fail or stay inert `Tag`s.
 */
addDecodeExtension(refuse(51, 'packed values'));
/** Tags 28/29 (shared references): values on the wire are trees, never cycles or aliases. */
addDecodeExtension(refuse(28, 'shareable value'));
addDecodeExtension(refuse(29, 'shared reference'));

/** Tags 2/3 (bignums) in linear time: cbor-x's shift loop is quadratic (100 KB took 1.2 s). */
function bignum(bytes: unknown): bigint {
  if (!(bytes instanceof Uint8Array)) throw new Error('a bignum tag must wrap a byte string');
  if (bytes.length === 0) return 0n;
  return BigInt('0x' + Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('hex'));
}
addDecodeExtension({ tag: 2, decode: bignum });
addDecodeExtension({ tag: 3, decode: (bytes) => -1n - bignum(bytes) });

/**
 * `copyBuffers`: decoded byte strings get their own memory. Values outlive their frame (windows
 * keep them), and a view would pin the whole frame and alias the transport's receive buffer.
 */
export const cborEncoder = new Encoder({ useRecords: false, mapsAsObjects: true });

/**
 * The values section of a data frame (and so of a replay-log batch) only: cbor-x record
 * structures. An object's keys are written once per shape and frame (an inline record definition,
 * tags 0xe000-0xffff), each further object of that shape as a tagged array of its values. On the
 * benchmark fleet's records (5 keys; bench/encode-once.ts) a v2 frame decodes 2.8x faster than
 * with maps, its values encode 1.3x faster, in 38 % fewer bytes. Every encode is self-contained
 * (no structures shared between frames), and every cbor-x decoder reads records whatever its
 * `useRecords`, so older nodes decode these frames. Not for anything a non-Tributary consumer
 * reads (sink payloads, control messages): generic CBOR decoders do not know the record tags.
 *
 * It is an Encoder of cbor-x's second build (`cbor-x/index-no-eval`, the same encoder code; only
 * its decoder differs, and it decodes nothing here): V8 keeps type feedback per function literal,
 * so with one copy the encode function of this, the hottest encoder of an edge agent, shared its
 * feedback with every other encode of the process (headers, keys, control messages, checkpoints).
 * Profiled with `perf` on the agent at full rate, a third of its main thread then ran in V8's
 * baseline tier, most of it cbor-x's encode (never staying optimised); with its own copy 2 %
 * (bench/README.md, session 8). The output is byte-identical (test/codec.test.ts).
 */
export const valuesEncoder = new RecordsEncoder({ useRecords: true, mapsAsObjects: true });
export const cborDecoder = new Decoder({ useRecords: false, mapsAsObjects: true, copyBuffers: true });
