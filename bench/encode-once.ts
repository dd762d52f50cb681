/**
 * The edge's codec work per record, before and after "encode once" (issue 14), in one process on
 * the benchmark fleet's own records (10 devices, 1,000 per batch): what the agent encodes for the
 * replay log and for the wire, and what the worker decodes.
 *
 *   before (frame version 1): the log encodes the batch as a frame; the keyBy'd batch is encoded
 *     again for the wire, as [ts, value, key] items built per message; the receiver decodes it.
 *   after (version 2): the values are encoded once (encodeValues), the log frame and the wire
 *     frame (with the keys keyBy set) are written around those bytes; the receiver decodes it.
 *
 * Both run alternately, several rounds (after one warm-up); prints the median and min–max ns per record of CPU time
 * (process.cpuUsage: less sensitive than wall time to other processes on a shared machine).
 * Nothing asserted.
 *
 *   npx tsx bench/encode-once.ts [records=1000000] [rounds=7]
 */
import { createLogger, decodeFrame, encodeFrame, encodeFrameV1, encodeValues, type Message, type SourceContext } from '@tributary/shared';
import { deviceSource, unpacedLoad } from './apps/devices.js';

const N = Number(process.argv[2] ?? 1_000_000);
const ROUNDS = Number(process.argv[3] ?? 7);
const BATCH = 1000;

async function fleetBatches(): Promise<Message[][]> {
  const source = deviceSource(unpacedLoad(10, N, 100_000)).create();
  const ctx: SourceContext = { taskIndex: 0, parallelism: 1, log: createLogger({ level: 'silent' }), nodeId: 'bench', nodeLabels: {}, reject() {} };
  await source.open(ctx);
  const batches: Message[][] = [];
  for (let b = await source.read(BATCH); b !== null; b = await source.read(BATCH)) if (b.length > 0) batches.push(b as Message[]);
  await source.close();
  return batches;
}

const header = { app: 'edge-to-cloud', epoch: 1, sender: 3, clock: 0 };
/** What keyBy(device) makes of a source batch: new messages with a key, the same values. */
const keyed = (batch: Message[]) => batch.map((m) => ({ ts: m.ts, key: (m.value as { device: string }).device, value: m.value }));

/** The agent's part: the replay log's frame and the wire frame of each batch. */
function agentBefore(batches: Message[][], wire: Uint8Array[]): void {
  for (let i = 0; i < batches.length; i++) {
    encodeFrameV1({ ...header, firstSeq: i * BATCH, messages: batches[i] });
    wire[i] = encodeFrameV1({ ...header, firstSeq: i * BATCH, messages: keyed(batches[i]) });
  }
}

function agentAfter(batches: Message[][], wire: Uint8Array[]): void {
  for (let i = 0; i < batches.length; i++) {
    const values = encodeValues(batches[i].map((m) => m.value));
    encodeFrame({ ...header, firstSeq: i * BATCH, messages: batches[i] }, undefined, values);
    wire[i] = encodeFrame({ ...header, firstSeq: i * BATCH, messages: keyed(batches[i]) }, undefined, values);
  }
}

/** The worker's part: one decode per frame. */
function receiver(wire: Uint8Array[]): void {
  for (const bytes of wire) decodeFrame(bytes);
}

function cpuNs(f: () => void): number {
  const c0 = process.cpuUsage();
  f();
  const c = process.cpuUsage(c0);
  return (c.user + c.system) * 1000;
}

const batches = await fleetBatches();
const records = batches.reduce((n, b) => n + b.length, 0);
const v1: Uint8Array[] = [];
const v2: Uint8Array[] = [];
const runs: Record<string, number[]> = { 'agent, before (v1, encoded twice)': [], 'agent, after (v2, encoded once)': [], 'receiver, before (v1)': [], 'receiver, after (v2)': [] };
const [ab, aa, rb, ra] = Object.values(runs);
for (let r = 0; r < ROUNDS + 1; r++) {
  const figures = [cpuNs(() => agentBefore(batches, v1)), cpuNs(() => agentAfter(batches, v2)), cpuNs(() => receiver(v1)), cpuNs(() => receiver(v2))];
  if (r === 0) continue; // warm-up
  [ab, aa, rb, ra].forEach((xs, i) => xs.push(figures[i] / records));
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
console.log(`${records.toLocaleString('en')} records, ${ROUNDS} rounds; CPU ns per record: median (min–max)`);
for (const [name, xs] of Object.entries(runs)) {
  console.log(`  ${name.padEnd(36)} ${median(xs).toFixed(0).padStart(5)} (${Math.min(...xs).toFixed(0)}–${Math.max(...xs).toFixed(0)})`);
}
console.log(`  agent after/before ${(median(aa) / median(ab)).toFixed(2)}, receiver after/before ${(median(ra) / median(rb)).toFixed(2)}; frame bytes v1 ${v1.reduce((n, b) => n + b.length, 0).toLocaleString('en')}, v2 ${v2.reduce((n, b) => n + b.length, 0).toLocaleString('en')}`);
