/**
 * PostgreSQL sink throughput: rows/s into a private Debian PostgreSQL 15 (initdb in a temp dir,
 * loopback, fsync off, synchronous_commit on) through the Sink API, as a sink task is driven: one
 * write() per batch, awaited. Plant-monitor window rows (8 columns). For each batch size (rows per
 * write(): one transaction each) and mode:
 *  - exactly-once: rows + progress row + emitted entries in one transaction (checkpoints on);
 *  - plain: rows only (checkpoints off);
 *  - upsert: exactly-once with ON CONFLICT (device, sensor, window_start) DO UPDATE.
 * A checkpoint every 10 batches with the previous one complete, so emitted entries are pruned as
 * in a run.
 *
 *   npm run bench:postgres                 # or: node --import=tsx bench/postgres-sink.ts --rows 50000
 *
 * Writes bench/results/postgres-sink-latest.json.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { builtinConnectors, createLogger, createSink, postgresSink, type Message, type Sink } from '@tributary/shared';
import { startPostgres } from '../test/helpers/postgres.js';
import { resultsDir } from './lib/paths.js';

const { values } = parseArgs({ options: { rows: { type: 'string', default: '50000' } } });
const ROWS = Number(values.rows);
const BATCHES = [1, 10, 100, 1000, 5000];
const MODES = ['exactly-once', 'plain', 'upsert'] as const;

interface Win {
  device: string;
  sensor: string;
  windowStart: number;
  count: number;
  min: number;
  max: number;
  avg: number;
}

const loadBefore = loadavg()[0];
const db = await startPostgres();
const log = createLogger({ level: 'silent' });
const results: { mode: string; batch: number; rows: number; seconds: number; rowsPerSecond: number; batchesPerSecond: number }[] = [];
try {
  for (const mode of MODES) {
    for (const batch of BATCHES) {
      const rows = batch === 1 ? Math.min(ROWS, 3000) : ROWS;
      const table = `bench_${mode.replace('-', '_')}_${batch}`;
      await db.query(`CREATE TABLE ${table} (device text, sensor text, window_start bigint, window_end bigint, count integer,
        min double precision, max double precision, avg double precision${mode === 'upsert' ? ', PRIMARY KEY (device, sensor, window_start)' : ''})`);
      const sink = createSink(postgresSink<Win>({
        url: db.url, table,
        toRow: (w) => ({ device: w.device, sensor: w.sensor, window_start: w.windowStart, window_end: w.windowStart + 1000, count: w.count, min: w.min, max: w.max, avg: w.avg }),
        upsertKey: mode === 'upsert' ? ['device', 'sensor', 'window_start'] : undefined,
      }), builtinConnectors) as Sink<Win>;
      await sink.open({ taskIndex: 0, parallelism: 1, log, exactlyOnce: mode !== 'plain', resume: false });
      const started = process.hrtime.bigint();
      for (let n = 0, b = 0; n < rows; n += batch, b++) {
        const msgs: Message<Win>[] = [];
        for (let i = n; i < Math.min(n + batch, rows); i++) {
          const windowStart = Math.floor(i / 200) * 1000;
          msgs.push({ ts: windowStart + 999, value: { device: `dev-${i % 100}`, sensor: i % 200 < 100 ? 'temperature' : 'vibration', windowStart, count: 50, min: i % 40, max: 40 + (i % 5), avg: 20 + (i % 7) / 3 } });
        }
        await sink.write(msgs);
        if (b % 10 === 9) {
          sink.checkpointComplete?.(msgs[0]!.ts - 10 * batch);
          await sink.checkpoint?.(msgs[msgs.length - 1]!.ts + 1);
        }
      }
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      await sink.close();
      const n = Number((await db.query<{ n: string }>(`SELECT count(*) AS n FROM ${table}`)).rows[0]!.n);
      if (n !== rows) throw new Error(`${table}: ${n} rows, expected ${rows}`);
      const r = { mode, batch, rows, seconds: Number(seconds.toFixed(3)), rowsPerSecond: Math.round(rows / seconds), batchesPerSecond: Math.round(rows / batch / seconds) };
      results.push(r);
      console.log(`${mode.padEnd(13)} batch ${String(batch).padStart(5)}: ${r.rowsPerSecond.toLocaleString('en').padStart(9)} rows/s, ${r.batchesPerSecond.toLocaleString('en').padStart(6)} transactions/s (${rows.toLocaleString('en')} rows)`);
    }
  }
} finally {
  await db.destroy();
}
await mkdir(resultsDir, { recursive: true });
console.log(`load average (1 min): ${loadBefore.toFixed(1)} before, ${loadavg()[0].toFixed(1)} after (2 cores)`);
await writeFile(join(resultsDir, 'postgres-sink-latest.json'), JSON.stringify({ postgres: 15, columns: 8, loadAverage1m: { before: loadBefore, after: loadavg()[0] }, results }, null, 2) + '\n');
