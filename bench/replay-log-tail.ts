/**
 * The replay log's append latency at a moderate rate, with a checkpoint's trim every second, as an
 * edge source task drives it at 10k records/s (batches of ~12 records, the position written with
 * each): append p50/p99/p99.9/max and how many appends took over 3 ms, and how long each trim
 * (replayStart + trim) took. LevelDB on disk, the agent's real store; nothing else running.
 *
 *   npm run bench:replay-log-tail
 *   npm run bench:replay-log-tail -- --seconds 20 --rate 10000 --batch 12 --trim no --position no
 *
 * Writes bench/results/replay-log-tail-latest.json.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { Message } from '@tributary/shared';
import { LevelReplayLog } from '@tributary/shared/store';
import { resultsDir } from './lib/paths.js';

const { values: o } = parseArgs({ options: {
  seconds: { type: 'string', default: '20' }, rate: { type: 'string', default: '10000' }, batch: { type: 'string', default: '12' },
  cp: { type: 'string', default: '1000' }, position: { type: 'string', default: 'yes' }, trim: { type: 'string', default: 'yes' } } });
const SECONDS = Number(o.seconds), RATE = Number(o.rate), BATCH = Number(o.batch), CP = Number(o.cp);
const dir = await mkdtemp(join(tmpdir(), 'rltail-'));
const log = new LevelReplayLog(dir);
await log.open();
const t0 = 1_700_000_000_000;
let n = 0;
const lat: number[] = [];
const trimLat: number[] = [];
const start = performance.now();
let nextCp = CP;
let cpPending: Promise<void> | null = null;
let stalls = 0;
while (true) {
  const el = performance.now() - start;
  if (el > SECONDS * 1000) break;
  const due = Math.floor(el * RATE / 1000);
  if (n + BATCH > due) { await new Promise((r) => setTimeout(r, 1)); continue; }
  const recs: Message[] = [];
  for (let i = 0; i < BATCH; i++) { const ts = t0 + Math.floor((n + i) * 1000 / RATE); recs.push({ ts, key: `dev-${(n + i) % 10}`, value: { ts, device: `dev-${(n + i) % 10}`, value: (n + i) % 400 / 10 } }); }
  const a = performance.now();
  await log.append('s', recs, recs[recs.length - 1].ts, o.position === 'yes' ? { offset: n + BATCH } : undefined);
  const d = performance.now() - a;
  lat.push(d);
  n += BATCH;
  if (o.trim === 'yes' && el > nextCp && cpPending === null) {
    nextCp += CP;
    // A checkpoint of time t completes ~CP ms behind: trim what it no longer needs.
    const t = t0 + Math.floor(Math.max(0, n - RATE * CP / 1000) * 1000 / RATE);
    const b = performance.now();
    cpPending = (async () => { const { seq } = await log.replayStart('s', t); await log.trim('s', seq); trimLat.push(performance.now() - b); cpPending = null; })();
  }
}
await cpPending;
const s = [...lat].sort((x, y) => x - y);
const q = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))].toFixed(2);
const result = ({ variant: { position: o.position, trim: o.trim, batch: BATCH, rate: RATE }, appends: s.length, p50: q(0.5), p99: q(0.99), p999: q(0.999), max: s[s.length - 1].toFixed(1), over3ms: s.filter((x) => x > 3).length,
  trims: trimLat.length, trimMaxMs: Math.max(...trimLat).toFixed(1), trimP50: [...trimLat].sort((x, y) => x - y)[trimLat.length >> 1]?.toFixed(2) });
console.log(JSON.stringify(result));
await mkdir(resultsDir, { recursive: true });
await writeFile(join(resultsDir, 'replay-log-tail-latest.json'), JSON.stringify(result, null, 2) + '\n');
await log.close();
await rm(dir, { recursive: true, force: true });
