import test from 'ava';
import { join } from 'node:path';
import { writeFile } from 'node:fs/promises';
import { writeReadingsFile, writeWordsFile } from '@tributary/simulators';
import { tributary } from './helpers/cli.js';
import { readJsonLines, referenceSensorWindows, referenceWordCount, windowKey, type WindowRow } from './helpers/reference.js';
import { tempDir } from './helpers/tmp.js';

test('wordcount counts 1 million words exactly like the reference', async (t) => {
  const dir = await tempDir();
  t.teardown(dir.cleanup);
  const input = join(dir.path, 'words.txt');
  const output = join(dir.path, 'counts.jsonl');
  await writeWordsFile(input, { words: 1_000_000, vocabulary: 20_000, seed: 11 });

  const run = await tributary(['run', 'examples/wordcount.ts', '--param', `input=${input}`, '--param', `output=${output}`]);
  t.is(run.code, 0, run.stderr);

  const expected = await referenceWordCount(input);
  const rows = await readJsonLines<{ word: string; count: number }>(output);
  t.is(rows.length, expected.size, 'one line per distinct word');
  const got = new Map(rows.map((r) => [r.word, r.count]));
  t.is(got.size, rows.length, 'no word twice');
  let total = 0;
  for (const [word, count] of expected) {
    total += count;
    if (got.get(word) !== count) t.fail(`count of ${JSON.stringify(word)}: got ${got.get(word)}, expected ${count}`);
  }
  t.is(total, 1_000_000);
});

test('wordcount: whitespace runs, tabs, CRLF, unicode and empty lines', async (t) => {
  const dir = await tempDir();
  t.teardown(dir.cleanup);
  const input = join(dir.path, 'in.txt');
  const output = join(dir.path, 'out.jsonl');
  await writeFile(input, 'a  b\tA\r\n\n   \nß ß a\u00a0b\nlast-line-no-newline a');
  const run = await tributary(['run', 'examples/wordcount.ts', '--param', `input=${input}`, '--param', `output=${output}`]);
  t.is(run.code, 0, run.stderr);
  const got = Object.fromEntries((await readJsonLines<{ word: string; count: number }>(output)).map((r) => [r.word, r.count]));
  t.deepEqual(got, { a: 3, b: 2, A: 1, 'ß': 2, 'last-line-no-newline': 1 });
});

test('sensor-windows matches the reference on 200k out-of-order readings, late ones included', async (t) => {
  const dir = await tempDir();
  t.teardown(dir.cleanup);
  const input = join(dir.path, 'readings.jsonl');
  const output = join(dir.path, 'windows.jsonl');
  await writeReadingsFile(input, { count: 200_000, devices: 50, intervalMs: 5, maxDelayMs: 5_000, lateFraction: 0.002, seed: 3 });

  const run = await tributary(['run', 'examples/sensor-windows.ts', '--param', `input=${input}`, '--param', `output=${output}`,
    '--param', 'windowMs=10000', '--param', 'maxDelayMs=5000']);
  t.is(run.code, 0, run.stderr);

  const expected = await referenceSensorWindows(input, 10_000, 5_000);
  const rows = await readJsonLines<WindowRow>(output);
  t.is(rows.length, expected.windows.size, 'one line per device per window');
  for (const row of rows) {
    const want = expected.windows.get(windowKey(row.device, row.windowStart));
    if (!want) {
      t.fail(`unexpected window ${row.device}@${row.windowStart}`);
      continue;
    }
    t.is(row.windowEnd, row.windowStart + 10_000);
    t.is(row.windowStart % 10_000, 0, 'aligned to multiples of windowMs');
    if (row.count !== want.count || row.min !== want.min || row.max !== want.max || Math.abs(row.avg - want.avg) > 1e-9) {
      t.fail(`window ${row.device}@${row.windowStart}: got ${JSON.stringify(row)}, expected ${JSON.stringify(want)}`);
    }
  }
  t.true(expected.late.length > 100, 'the input really has late readings');
  const late = await readJsonLines<{ ts: number; device: string; value: number }>(`${output}.late`);
  t.deepEqual(late.map((r) => JSON.stringify(r)).sort(), expected.late.map((r) => JSON.stringify(r)).sort());
});

test('sensor-windows rejects malformed lines with a count, and keeps every good reading', async (t) => {
  const dir = await tempDir();
  t.teardown(dir.cleanup);
  const input = join(dir.path, 'in.jsonl');
  const output = join(dir.path, 'out.jsonl');
  await writeFile(input, [
    '{"ts": 1000, "device": "a", "value": 1}',
    '{"ts": 1500, "device": "a", "value": 3',
    'not json at all',
    '{"ts": "soon", "device": "a", "value": 5}',
    '{"ts": 1200, "device": "a", "value": "high"}',
    '{"ts": 2000, "device": "b", "value": 7}',
    '',
  ].join('\n'));
  const run = await tributary(['run', 'examples/sensor-windows.ts', '--param', `input=${input}`, '--param', `output=${output}`,
    '--param', 'windowMs=10000', '--param', 'maxDelayMs=0', '--summary', 'json']);
  t.is(run.code, 0, run.stderr);
  const summary = JSON.parse(run.stderr.trim().split('\n').at(-1)!) as { rejected: number };
  t.is(summary.rejected, 4);
  t.regex(run.stderr, /in\.jsonl:2: malformed JSON/);
  t.regex(run.stderr, /in\.jsonl:5: value must be a finite number/);
  const rows = await readJsonLines<WindowRow>(output);
  t.deepEqual(rows.map((r) => [r.device, r.count, r.avg]).sort(), [['a', 1, 1], ['b', 1, 7]]);
});
