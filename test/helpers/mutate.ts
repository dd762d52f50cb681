/**
 * Seeded payload mutations for the fuzz test (test/fuzz-mqtt.test.ts): from one valid payload,
 * bit flips, truncations, extensions, random bytes and type swaps of CBOR fields. The same seed
 * always gives the same payloads (mulberry32), so a failure can be replayed.
 */
import { cborDecoder, cborEncoder } from '@tributary/shared';

export type Rng = () => number;
export type Mutation = 'bitflip' | 'truncate' | 'extend' | 'random' | 'typeswap' | 'splice';
export const MUTATIONS: readonly Mutation[] = ['bitflip', 'truncate', 'extend', 'random', 'typeswap', 'splice'];

const int = (rng: Rng, n: number) => Math.floor(rng() * n);

function randomBytes(rng: Rng, n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = int(rng, 256);
  return out;
}

/** Values of every CBOR major type, plus the awkward ones (NaN, huge, deep, empty). */
function strangeValue(rng: Rng): unknown {
  const pick: (() => unknown)[] = [
    () => null, () => undefined, () => true, () => -1, () => 2 ** 53 + 2, () => Number.NaN, () => -Infinity, () => 1.5,
    () => '', () => 'x'.repeat(int(rng, 400)), () => 'master', () => new Uint8Array(int(rng, 16)),
    () => [], () => [[[[[[[[]]]]]]]], () => ({}), () => ({ __proto__: 1, constructor: 'x' }), () => -(2 ** 63), () => 10n ** 30n,
    () => new Map([[1, 2]]), () => new Date(0),
  ];
  return pick[int(rng, pick.length)]!();
}

/** Replaces one randomly chosen field (at any depth) of `value` with a value of another type. */
function swapField(rng: Rng, value: unknown, depth = 0): unknown {
  if (depth > 6 || value === null || typeof value !== 'object' || value instanceof Uint8Array) return strangeValue(rng);
  if (Array.isArray(value)) {
    if (value.length === 0 || rng() < 0.15) return strangeValue(rng);
    const copy = [...value];
    const i = int(rng, copy.length);
    copy[i] = swapField(rng, copy[i], depth + 1);
    return copy;
  }
  const keys = Object.keys(value);
  if (keys.length === 0 || rng() < 0.1) return strangeValue(rng);
  const copy: Record<string, unknown> = { ...(value as Record<string, unknown>) };
  const k = keys[int(rng, keys.length)]!;
  if (rng() < 0.1) delete copy[k];
  else copy[k] = swapField(rng, copy[k], depth + 1);
  return copy;
}

/** One mutation of `base` (a valid payload), chosen by `kind`. */
export function mutate(rng: Rng, base: Uint8Array, kind: Mutation): Uint8Array {
  switch (kind) {
    case 'bitflip': {
      const out = Uint8Array.from(base);
      for (let n = 1 + int(rng, 8); n > 0; n--) {
        const i = int(rng, out.length);
        out[i] = out[i]! ^ (1 << int(rng, 8));
      }
      return out;
    }
    case 'truncate':
      return base.slice(0, int(rng, base.length));
    case 'extend': {
      const tail = randomBytes(rng, 1 + int(rng, 64));
      const out = new Uint8Array(base.length + tail.length);
      out.set(base);
      out.set(tail, base.length);
      return out;
    }
    case 'random':
      return randomBytes(rng, int(rng, 96));
    case 'typeswap':
      return cborEncoder.encode(swapField(rng, cborDecoder.decode(base)));
    case 'splice': {
      // Overwrite a run of bytes in the middle: breaks lengths and headers, keeps the rest intact.
      const out = Uint8Array.from(base);
      const at = int(rng, out.length);
      out.set(randomBytes(rng, Math.min(out.length - at, 1 + int(rng, 8))), at);
      return out;
    }
  }
}
