/**
 * Per-device statistics over tumbling event-time windows, from readings that arrive out of order
 * by up to maxDelayMs. Readings behind the clock go to <output>.late.
 *
 *   npx tributary run examples/sensor-windows.ts --param input=readings.jsonl \
 *     --param output=windows.jsonl --param windowMs=10000 --param maxDelayMs=5000
 */
import { jsonLinesSink, jsonLinesSource, pipeline, tumbling, type Params } from 'tributary';

export interface Reading {
  ts: number;
  device: string;
  value: number;
}

/** One result: a device's statistics over one window [windowStart, windowEnd). */
export interface WindowRow {
  device: string;
  windowStart: number;
  windowEnd: number;
  count: number;
  min: number;
  max: number;
  avg: number;
}

export function checkReading(r: Reading): string | undefined {
  if (r === null || typeof r !== 'object') return 'not a JSON object';
  if (typeof r.device !== 'string') return 'device must be a string';
  if (typeof r.value !== 'number' || !Number.isFinite(r.value)) return 'value must be a finite number';
  return undefined;
}

export default (params: Params) => {
  const output = params.string('output');
  const windowMs = params.integer('windowMs', 10_000);
  const maxDelayMs = params.integer('maxDelayMs', 5_000);
  const app = pipeline('sensor-windows').late(jsonLinesSink(`${output}.late`));
  app
    .source(jsonLinesSource<Reading>(params.string('input'), { maxDelayMs, validate: checkReading }))
    .keyBy((r) => r.device)
    .window(tumbling(windowMs))
    .stats((r) => r.value)
    .map((w): WindowRow => ({
      device: String(w.key),
      windowStart: w.start,
      windowEnd: w.end,
      count: w.value.count,
      min: w.value.min,
      max: w.value.max,
      avg: w.value.avg,
    }))
    .sink(jsonLinesSink(output));
  return app;
};
