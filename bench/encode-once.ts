/**
 * The edge's codec work per record, before and after "encode once" (issue 14), in one process on
 * the benchmark fleet's own records (10 devices, batches of 1,000), step by step:
 *
 *   before (frame version 1): the replay log encodes each batch as a frame, and the batch keyBy'd
 *     (new messages, same values, a key each) is encoded again for the wire, as [ts, value, key]
 *     items built per message;
 *   after (version 2): the values are encoded once (encodeValues), then the log frame and the wire
 *     frame are written around those bytes (event times, keys, header, one copy);
 *   after that (version 3): the wire frame's keys as a dictionary of the distinct keys and an index
 *     (keyed frames of version 2 wrote every message's key as a string of its own);
 *   and what the worker pays to decode each version, and to count the decoded messages by key in a
 *   `Map` (what a keyed window does first); in parentheses, the values section as plain CBOR maps,
 *   as before they were written as cbor-x record structures (valuesEncoder).
 *
 * Every step runs once per round, alternately, for 8 rounds (the first a warm-up); prints the
 * median and min–max CPU ns per record (process.cpuUsage: steadier than wall time on a shared
 * machine). Nothing asserted.
 *
 *   npx tsx bench/encode-once.ts [records=300000]
 */
import {
  cborEncoder, createLogger, decodeFrame, encodeFrame, encodeFrameV1, encodeValues, type Message, type SourceContext,
} from '@tributary/shared';
import { deviceSource, unpacedLoad } from './apps/devices.js';

const N = Number(process.argv[2] ?? 300_000);
const ROUNDS = 8;

const source = deviceSource(unpacedLoad(10, N, 100_000)).create();
await source.open({ taskIndex: 0, parallelism: 1, log: createLogger({ level: 'silent' }), nodeId: 'bench', nodeLabels: {}, reject() {} } as SourceContext);
const batches: Message[][] = [];
for (let b = await source.read(1000); b !== null; b = await source.read(1000)) if (b.length > 0) batches.push(b as Message[]);
await source.close();
const records = batches.reduce((n, b) => n + b.length, 0);

/** What keyBy(device) hands the remote channel: new messages with a key, the same values. */
const keyed = batches.map((b) => b.map((m) => ({ ts: m.ts, key: (m.value as { device: string }).device, value: m.value })));
const values = batches.map((b) => encodeValues(b.map((m) => m.value)));
const header = { app: 'edge-to-cloud', epoch: 1, sender: 3, clock: 0, firstSeq: 0 };
const wireV1 = keyed.map((messages) => encodeFrameV1({ ...header, messages }));
const wireV2 = keyed.map((messages, i) => encodeFrame({ ...header, messages }, undefined, values[i], false));
const wireV3 = keyed.map((messages, i) => encodeFrame({ ...header, messages }, undefined, values[i]));
/** Decode, then count by key as a keyed window's first step does. */
const counts = new Map<unknown, number>();
const countByKey = (bytes: Uint8Array) => {
  for (const m of decodeFrame(bytes).messages) counts.set(m.key, (counts.get(m.key) ?? 0) + 1);
};
/** A batch's values as plain CBOR maps (what nodes sent before record structures). */
const asMaps = (b: Message[]) => cborEncoder.encode(b.map((m) => m.value));
const wireV2Maps = keyed.map((messages, i) => encodeFrame({ ...header, messages }, undefined, { values: messages.map((m) => m.value), bytes: asMaps(batches[i]) }));

const steps: Record<string, () => void> = {
  'before: log frame (v1)': () => batches.forEach((messages) => encodeFrameV1({ ...header, messages })),
  'before: wire frame, keyed (v1)': () => keyed.forEach((messages) => encodeFrameV1({ ...header, messages })),
  'after: encode the values once': () => batches.forEach((b) => encodeValues(b.map((m) => m.value))),
  '(values as maps, before records)': () => batches.forEach((b) => asMaps(b)),
  'after: log frame around them': () => batches.forEach((messages, i) => encodeFrame({ ...header, messages }, undefined, values[i])),
  'after: wire frame around them, keyed': () => keyed.forEach((messages, i) => encodeFrame({ ...header, messages }, undefined, values[i], false)),
  'v3: wire frame around them, keyed': () => keyed.forEach((messages, i) => encodeFrame({ ...header, messages }, undefined, values[i])),
  '(v2 wire frame, values not reusable)': () => keyed.forEach((messages) => encodeFrame({ ...header, messages })),
  'receiver: decode v1': () => wireV1.forEach((bytes) => decodeFrame(bytes)),
  'receiver: decode v2': () => wireV2.forEach((bytes) => decodeFrame(bytes)),
  'receiver: decode v3': () => wireV3.forEach((bytes) => decodeFrame(bytes)),
  'receiver: decode v2, count by key': () => wireV2.forEach(countByKey),
  'receiver: decode v3, count by key': () => wireV3.forEach(countByKey),
  '(receiver: decode v2, values as maps)': () => wireV2Maps.forEach((bytes) => decodeFrame(bytes)),
};

const ns: Record<string, number[]> = {};
for (let r = 0; r < ROUNDS; r++) {
  for (const [name, step] of Object.entries(steps)) {
    const c0 = process.cpuUsage();
    step();
    const c = process.cpuUsage(c0);
    if (r > 0) (ns[name] ??= []).push(((c.user + c.system) * 1000) / records);
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
console.log(`${records.toLocaleString('en')} records in ${batches.length} batches, ${ROUNDS - 1} rounds; CPU ns per record: median (min–max)`);
for (const [name, xs] of Object.entries(ns)) {
  console.log(`  ${name.padEnd(40)} ${median(xs).toFixed(0).padStart(5)} (${Math.min(...xs).toFixed(0)}–${Math.max(...xs).toFixed(0)})`);
}
const m = (name: string) => median(ns[name]);
const before = m('before: log frame (v1)') + m('before: wire frame, keyed (v1)');
const after = m('after: encode the values once') + m('after: log frame around them') + m('after: wire frame around them, keyed');
console.log(`  agent's encoding per record: before ${before.toFixed(0)} ns, after ${after.toFixed(0)} ns (${(after / before).toFixed(2)}×)`);
const bytes = (frames: Uint8Array[]) => frames.reduce((n, f) => n + f.byteLength, 0) / frames.length;
console.log(`  keyed wire frame: v2 ${bytes(wireV2).toFixed(0)} bytes, v3 ${bytes(wireV3).toFixed(0)} bytes; sender v2 ${m('after: wire frame around them, keyed').toFixed(0)} ns → v3 ${m('v3: wire frame around them, keyed').toFixed(0)} ns, receiver with the count by key v2 ${m('receiver: decode v2, count by key').toFixed(0)} ns → v3 ${m('receiver: decode v3, count by key').toFixed(0)} ns per record`);
