/**
 * Straightforward reference computations for the examples, written without any Tributary code,
 * so the tests compare the engine against an independent answer.
 */
import { readFile } from 'node:fs/promises';
import type { WindowRow } from '../../examples/sensor-windows.js';

export async function referenceWordCount(path: string): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (const line of (await readFile(path, 'utf8')).split('\n')) {
    for (const word of line.split(/\s+/)) {
      if (word.length > 0) counts.set(word, (counts.get(word) ?? 0) + 1);
    }
  }
  return counts;
}

/** Count, sum, min, max of one window: the plain-loop aggregate the references share. */
export class WindowAccumulator<K extends object> {
  private readonly acc = new Map<string, { fields: K; count: number; sum: number; min: number; max: number }>();

  add(key: string, fields: () => K, value: number): void {
    let w = this.acc.get(key);
    if (!w) this.acc.set(key, (w = { fields: fields(), count: 0, sum: 0, min: Infinity, max: -Infinity }));
    w.count++;
    w.sum += value;
    w.min = Math.min(w.min, value);
    w.max = Math.max(w.max, value);
  }

  results(): Map<string, K & { count: number; min: number; max: number; avg: number }> {
    const out = new Map<string, K & { count: number; min: number; max: number; avg: number }>();
    for (const [k, w] of this.acc) out.set(k, { ...w.fields, count: w.count, min: w.min, max: w.max, avg: w.sum / w.count });
    return out;
  }
}

export type { WindowRow };

export interface SensorReference {
  windows: Map<string, WindowRow>;
  late: { ts: number; device: string; value: number }[];
}

/**
 * Sensor windows by definition: a reading is late when its ts is older than (newest ts seen
 * before it) - maxDelayMs; the others are grouped by device and [k*windowMs, (k+1)*windowMs).
 */
export async function referenceSensorWindows(path: string, windowMs: number, maxDelayMs: number): Promise<SensorReference> {
  const windows = new WindowAccumulator<{ device: string; windowStart: number; windowEnd: number }>();
  const late: SensorReference['late'] = [];
  let maxSeen = -Infinity;
  for (const line of (await readFile(path, 'utf8')).split('\n')) {
    if (line.trim() === '') continue;
    const r = JSON.parse(line) as { ts: number; device: string; value: number };
    if (r.ts < maxSeen - maxDelayMs) {
      late.push(r);
      continue;
    }
    maxSeen = Math.max(maxSeen, r.ts);
    const start = Math.floor(r.ts / windowMs) * windowMs;
    windows.add(windowKey(r.device, start), () => ({ device: r.device, windowStart: start, windowEnd: start + windowMs }), r.value);
  }
  return { windows: windows.results(), late };
}

export function windowKey(device: string, start: number): string {
  return `${device}@${start}`;
}

export async function readJsonLines<T>(path: string): Promise<T[]> {
  const text = await readFile(path, 'utf8');
  return text.split('\n').filter((l) => l.length > 0).map((l) => JSON.parse(l) as T);
}
