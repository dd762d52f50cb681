import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { mulberry32 } from './prng.js';

export interface Reading {
  ts: number;
  device: string;
  value: number;
}

export interface ReadingsOptions {
  seed?: number;
  count: number;
  devices?: number;
  /** Event time of the first reading (epoch ms). */
  startTs?: number;
  /** Mean spacing of event times across the whole fleet, ms. */
  intervalMs?: number;
  /** Readings are delivered out of order by up to this much (the source's maxDelayMs). */
  maxDelayMs?: number;
  /** Share of readings delivered later than maxDelayMs allows (they must end up in late output). */
  lateFraction?: number;
}

/**
 * Sensor readings in delivery order: event times advance steadily, each reading is delayed by a
 * random 0..maxDelayMs (so the stream is out of order but within the bound), and a small share
 * is delayed far beyond it, arriving behind the clock. Deterministic for a given seed.
 */
export function* generateReadings(opts: ReadingsOptions): Generator<Reading> {
  const rnd = mulberry32(opts.seed ?? 1);
  const devices = opts.devices ?? 10;
  const interval = opts.intervalMs ?? 10;
  const maxDelay = opts.maxDelayMs ?? 5_000;
  const lateFraction = opts.lateFraction ?? 0;
  const start = opts.startTs ?? 1_700_000_000_000;
  // Min-heap by delivery time: a reading is released once the generator's time passes it.
  const heap: { at: number; r: Reading }[] = [];
  let emitted = 0;
  for (let i = 0; emitted < opts.count; i++) {
    if (i < opts.count) {
      const ts = start + Math.floor(i * interval + rnd() * interval);
      const late = rnd() < lateFraction;
      const delay = late ? maxDelay * (2 + rnd() * 3) : rnd() * maxDelay;
      const device = `dev-${Math.floor(rnd() * devices).toString().padStart(3, '0')}`;
      const value = Math.round((20 + 10 * Math.sin(ts / 60_000) + rnd() * 4 - 2) * 100) / 100;
      heapPush(heap, { at: ts + delay, r: { ts, device, value } });
    }
    const now = start + i * interval;
    while (heap.length > 0 && (heap[0].at <= now || i >= opts.count)) {
      yield heapPop(heap).r;
      emitted++;
    }
  }
}

/** Writes readings as JSON lines; resolves when the file is complete. */
export async function writeReadingsFile(path: string, opts: ReadingsOptions): Promise<number> {
  const out = createWriteStream(path);
  let n = 0;
  let chunk = '';
  for (const r of generateReadings(opts)) {
    chunk += JSON.stringify(r) + '\n';
    n++;
    if (chunk.length > 1 << 16) {
      if (!out.write(chunk)) await once(out, 'drain');
      chunk = '';
    }
  }
  out.end(chunk);
  await once(out, 'finish');
  return n;
}

export interface WordsOptions {
  seed?: number;
  words: number;
  vocabulary?: number;
  wordsPerLine?: number;
}

/**
 * Text with `words` words drawn from a Zipf-like vocabulary, with irregular whitespace (runs of
 * spaces, tabs, blank lines) so that splitting is really exercised.
 */
export async function writeWordsFile(path: string, opts: WordsOptions): Promise<void> {
  const rnd = mulberry32(opts.seed ?? 7);
  const vocab = Array.from({ length: opts.vocabulary ?? 5_000 }, (_, i) => wordFor(i));
  const perLine = opts.wordsPerLine ?? 12;
  const out = createWriteStream(path);
  let chunk = '';
  let onLine = 0;
  for (let i = 0; i < opts.words; i++) {
    const idx = Math.floor(vocab.length * Math.pow(rnd(), 3));
    const sep = onLine === 0 ? (rnd() < 0.1 ? '  ' : '') : rnd() < 0.05 ? '\t ' : ' ';
    chunk += sep + vocab[idx];
    if (++onLine >= perLine) {
      chunk += rnd() < 0.05 ? '\n\n' : rnd() < 0.05 ? ' \r\n' : '\n';
      onLine = 0;
    }
    if (chunk.length > 1 << 16) {
      if (!out.write(chunk)) await once(out, 'drain');
      chunk = '';
    }
  }
  out.end(chunk);
  await once(out, 'finish');
}

function wordFor(i: number): string {
  const syllables = ['ka', 'lo', 'mi', 'ne', 'ru', 'ta', 'vo', 'Zé', 'ß', 'xi'];
  let s = '';
  let n = i + 1;
  while (n > 0) {
    s += syllables[n % syllables.length];
    n = Math.floor(n / syllables.length);
  }
  return s;
}

function heapPush<T extends { at: number }>(h: T[], x: T): void {
  h.push(x);
  let i = h.length - 1;
  while (i > 0) {
    const p = (i - 1) >> 1;
    if (h[p].at <= h[i].at) break;
    [h[p], h[i]] = [h[i], h[p]];
    i = p;
  }
}

function heapPop<T extends { at: number }>(h: T[]): T {
  const top = h[0];
  const last = h.pop()!;
  if (h.length > 0) {
    h[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && h[l].at < h[m].at) m = l;
      if (r < h.length && h[r].at < h[m].at) m = r;
      if (m === i) break;
      [h[m], h[i]] = [h[i], h[m]];
      i = m;
    }
  }
  return top;
}
