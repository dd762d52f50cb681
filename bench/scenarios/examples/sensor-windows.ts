import { join } from 'node:path';
import { writeReadingsFile } from '@tributary/simulators';
import type { RunSummary } from '@tributary/shared';
import type { WindowRow } from '../../../examples/sensor-windows.js';
import { check, fileSize, forEachJsonLine } from './util.js';
import type { PreparedInput, ExampleApp, ScenarioOptions, VerifyResult } from './types.js';

const WINDOW_MS = 10_000;
const MAX_DELAY_MS = 5_000;

export const sensorWindows: ExampleApp = {
  name: 'sensor-windows',
  app: 'examples/sensor-windows.ts',
  description: 'JSON-lines source (validate, out-of-order, watermark) -> keyBy(device) -> 10 s tumbling window stats -> map -> JSON-lines sink (+ late sink)',
  async prepare(dir: string, options: ScenarioOptions): Promise<PreparedInput> {
    const count = options.records ?? (options.quick ? 200_000 : 1_000_000);
    const generator = { count, devices: 100, intervalMs: 5, maxDelayMs: MAX_DELAY_MS, lateFraction: 0.001, seed: 42 };
    const inputPath = join(dir, 'readings.jsonl');
    const written = await writeReadingsFile(inputPath, generator);
    check(written === count, `generated ${written} readings, wanted ${count}`);
    return {
      records: count,
      unit: 'readings',
      inputPath,
      inputBytes: await fileSize(inputPath),
      generator,
      params: (output) => ({ input: inputPath, output, windowMs: String(WINDOW_MS), maxDelayMs: String(MAX_DELAY_MS) }),
      verify: (output, summary) => verifySensorWindows(output, count, summary),
    };
  },
};


/** Every reading ends up in exactly one window or in the late output: counts must add up. */
async function verifySensorWindows(output: string, readings: number, summary?: RunSummary): Promise<VerifyResult> {
  let inWindows = 0;
  const outputLines = await forEachJsonLine<WindowRow>(output, (w) => {
    check(typeof w.device === 'string' && w.windowEnd - w.windowStart === WINDOW_MS && w.windowStart % WINDOW_MS === 0, `bad window row ${JSON.stringify(w)}`);
    check(Number.isSafeInteger(w.count) && w.count > 0 && w.min <= w.avg + 1e-9 && w.avg <= w.max + 1e-9, `inconsistent window stats ${JSON.stringify(w)}`);
    inWindows += w.count;
  });
  const late = await forEachJsonLine<{ ts: number }>(`${output}.late`, (r) => check(typeof r.ts === 'number', `bad late row ${JSON.stringify(r)}`));
  check(outputLines > 0, `sensor-windows wrote no windows to ${output}`);
  check(inWindows + late === readings, `sensor-windows: ${inWindows} readings in windows + ${late} late = ${inWindows + late}, the input has ${readings}`);
  if (summary) {
    check(summary.rejected === 0, `sensor-windows: ${summary.rejected} input records rejected`);
    check(summary.lateUndelivered === 0, `sensor-windows: ${summary.lateUndelivered} late records not delivered`);
    check(summary.processors[0]?.in === readings, `sensor-windows: the source read ${summary.processors[0]?.in} records, the input has ${readings}`);
  }
  return { outputLines, inputLines: summary?.processors[0]?.in, details: { windows: outputLines, readingsInWindows: inWindows, late } };
}
