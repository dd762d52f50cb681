/**
 * The replay log's disk footprint: LevelDB (the agent's real store) on disk, fed sensor readings
 * in batches of 1,000 as a source task appends them.
 *  - untrimmed: bytes on disk per million records, and the append rate;
 *  - trimmed after every batch to the last 20,000 records (checkpoints completing): the largest
 *    and the final size on disk over the whole run (flat = independent of the run's length).
 *
 *   npm run bench:replay-log                  # 1 million records
 *   npm run bench:replay-log -- --records 3000000
 *
 * Writes bench/results/replay-log-disk-latest.json.
 */
import { mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { Message } from '@tributary/shared';
import { LevelReplayLog } from '@tributary/shared/store';
import { resultsDir } from './lib/paths.js';

const { values } = parseArgs({ options: { records: { type: 'string', default: '1000000' } } });
const RECORDS = Number(values.records);
const BATCH = 1000;
const KEEP = 20_000;

async function onDisk(dir: string): Promise<number> {
  let bytes = 0;
  // LevelDB deletes files as it compacts: one may vanish between readdir and stat.
  for (const f of await readdir(dir)) bytes += (await stat(join(dir, f)).catch(() => ({ size: 0 }))).size;
  return bytes;
}

/** A plant-monitor reading: what an edge source appends. */
function readings(from: number): Message[] {
  const out: Message[] = [];
  for (let i = 0; i < BATCH; i++) {
    const ts = 1_700_000_000_000 + (from + i) * 10;
    out.push({ ts, value: { ts, device: 'dev-1', sensor: i % 2 ? 'vibration' : 'temperature', value: ((from + i) * 7919 % 4000) / 100 } });
  }
  return out;
}

async function run(trim: boolean): Promise<{ seconds: number; finalBytes: number; maxBytes: number }> {
  const dir = await mkdtemp(join(tmpdir(), 'tributary-bench-replay-'));
  const log = new LevelReplayLog(dir);
  await log.open();
  let maxBytes = 0;
  const started = process.hrtime.bigint();
  for (let n = 0; n < RECORDS; n += BATCH) {
    const batch = readings(n);
    const first = await log.append('source', batch, batch[batch.length - 1].ts, { n });
    if (trim) await log.trim('source', first + BATCH - KEEP);
    if ((n / BATCH) % 100 === 99) maxBytes = Math.max(maxBytes, await onDisk(dir));
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  await log.close();
  const finalBytes = await onDisk(dir);
  await rm(dir, { recursive: true, force: true });
  return { seconds, finalBytes, maxBytes: Math.max(maxBytes, finalBytes) };
}

const untrimmed = await run(false);
const trimmed = await run(true);
const mb = (b: number) => (b / 1e6).toFixed(1);
const result = {
  records: RECORDS,
  batch: BATCH,
  untrimmed: { ...untrimmed, bytesPerMillion: Math.round((untrimmed.finalBytes / RECORDS) * 1e6), recordsPerSecond: Math.round(RECORDS / untrimmed.seconds) },
  trimmed: { ...trimmed, keep: KEEP, recordsPerSecond: Math.round(RECORDS / trimmed.seconds) },
};
console.log(`replay log, ${RECORDS.toLocaleString('en')} readings in batches of ${BATCH}:`);
console.log(`  untrimmed: ${mb(untrimmed.finalBytes)} MB on disk = ${mb(result.untrimmed.bytesPerMillion)} MB per million records; ${result.untrimmed.recordsPerSecond.toLocaleString('en')} records/s appended`);
console.log(`  trimmed to the last ${KEEP.toLocaleString('en')} after each batch: at most ${mb(trimmed.maxBytes)} MB, ${mb(trimmed.finalBytes)} MB at the end; ${result.trimmed.recordsPerSecond.toLocaleString('en')} records/s appended + trimmed`);
await mkdir(resultsDir, { recursive: true });
await writeFile(join(resultsDir, 'replay-log-disk-latest.json'), JSON.stringify(result, null, 2) + '\n');
