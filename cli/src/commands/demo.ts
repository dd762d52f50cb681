import type { Command } from 'commander';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Params } from '@tributary/shared';
import { writeReadingsFile } from '@tributary/simulators';
import { runLocal } from './run.js';

const examples = join(dirname(fileURLToPath(import.meta.url)), '../../../examples');

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('run the sensor-windows example on generated data (local mode) and show what it did')
    .option('--readings <n>', 'number of generated readings', (v) => Number(v), 200_000)
    .action(async (opts: { readings: number }) => {
      const dir = await mkdtemp(join(tmpdir(), 'tributary-demo-'));
      const input = join(dir, 'readings.jsonl');
      const output = join(dir, 'windows.jsonl');
      const n = await writeReadingsFile(input, { count: opts.readings, devices: 20, intervalMs: 5, maxDelayMs: 5_000, lateFraction: 0.001, seed: 42 });
      say(`generated ${n} out-of-order sensor readings from 20 devices -> ${input}`);
      say(`running examples/sensor-windows.ts: 10 s tumbling windows per device, maxDelayMs=5000`);
      const params = new Params({ input, output, windowMs: '10000', maxDelayMs: '5000' });
      const summary = await runLocal(join(examples, 'sensor-windows.ts'), params, 1024);
      const windows = (await readFile(output, 'utf8')).trim().split('\n');
      const late = (await readFile(`${output}.late`, 'utf8')).trim().split('\n').filter(Boolean);
      const rate = Math.round(n / (summary.durationMs / 1000));
      say(`done in ${summary.durationMs} ms (${rate.toLocaleString('en')} readings/s)`);
      say(`${windows.length} window results -> ${output}; first three:`);
      for (const w of windows.slice(0, 3)) say(`  ${w}`);
      say(`${late.length} readings arrived behind the clock -> ${output}.late`);
      say('next: `npx tributary plan examples/sensor-windows.ts` shows the fused plan; see README.md for more.');
    });
}

function say(line: string): void {
  process.stdout.write(line + '\n');
}
