/**
 * `npm run bench:agent`: the single-binary agent (dist/tributary-agent-linux-*) measured as a device
 * runs it: no node on PATH, a real master and worker (CLI) behind an embedded broker in this process.
 *  - size: raw and xz of both targets (the build runs first: `npm run build:agent`, cached);
 *  - start to registered: spawn of the x64 binary -> its hello delivered by the broker to the master;
 *  - RSS idle (registered, no application) and at 1,000 records/s (plant-monitor paced on the
 *    agent: 2 sensors every 2 ms into its replay log, half sent on after downsampling), split into
 *    anonymous (the process's own) and file-backed (the executable's pages, shared and clean);
 *  - records per CPU-second of the agent process under that load;
 *  - where the memory goes: process.memoryUsage() and V8 heap spaces from inside the binary
 *    (bench/lib/agent-memory-probe.cjs via NODE_OPTIONS), and with --snapshot a heap snapshot's
 *    largest object kinds.
 *
 *   npm run bench:agent [-- --runs 5 --seconds 20 --skip-build --snapshot --node-options "--max-semi-space-size=1" --env MALLOC_ARENA_MAX=2]
 *
 * Writes bench/results/agent-latest.json.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, statSync, writeSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startEmbeddedBroker } from '../cloud-core/src/broker/embedded-broker.js';
import { launchMaster, launchNode, type ChildNode } from '../cli/src/launcher.js';
import { binaryPath, spawnAgentBinary, type Target } from '../test/helpers/agent-binary.js';
import { cpuSeconds } from './lib/procs.js';
import { heapSummary } from './lib/heap-summary.js';
import { benchDir, repoRoot, resultsDir } from './lib/paths.js';
import { submit, sleep } from './lib/submit.js';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '5' },
    seconds: { type: 'string', default: '20' },
    'skip-build': { type: 'boolean', default: false },
    snapshot: { type: 'boolean', default: false },
    'node-options': { type: 'string', default: '' },
    env: { type: 'string', multiple: true, default: [] },
  },
});
const RUNS = Number(values.runs);
const SECONDS = Number(values.seconds);
const RATE = 1000;
const MB = 2 ** 20;
const TARGETS: Target[] = ['linux-x64', 'linux-arm64'];

if (!values['skip-build']) execFileSync(process.execPath, [join(repoRoot, 'deploy/build-agent.mjs')], { stdio: 'inherit' });
const size = Object.fromEntries(TARGETS.map((t) => {
  const bin = binaryPath(t);
  const mb = (f: string) => (existsSync(f) ? +(statSync(f).size / 1e6).toFixed(1) : null);
  return [t, { rawMB: mb(bin), xzMB: mb(`${bin}.xz`) }];
}));

/**
 * The binary as a device holds it: written by decompression in small chunks. A file written in
 * large blocks (postject, cp) sits in the page cache as large folios, and mapping one maps all of
 * it: the same executable then shows ~15 MB more file-backed RSS (59 vs 45 MB measured).
 */
async function asOnDevice(bin: string, dir: string): Promise<string> {
  const copy = join(dir, 'tributary-agent');
  const data = readFileSync(bin);
  const fd = openSync(copy, 'w', 0o755);
  for (let at = 0; at < data.length; at += 8192) writeSync(fd, data, at, Math.min(8192, data.length - at));
  closeSync(fd);
  return copy;
}

/** RSS of a process from /proc: total, anonymous (its own) and file-backed (the executable's pages). */
function rss(pid: number): { rss: number; anon: number; file: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kB = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? NaN) / 1024;
  return { rss: kB('VmRSS'), anon: kB('RssAnon'), file: kB('RssFile') };
}

/** Samples RSS every 250 ms for `ms`; the median and peak of each part. */
async function sampleRss(pid: number, ms: number): Promise<Record<'rss' | 'anon' | 'file', { median: number; peak: number }>> {
  const samples: ReturnType<typeof rss>[] = [];
  for (const end = Date.now() + ms; Date.now() < end; await sleep(250)) samples.push(rss(pid));
  const part = (k: 'rss' | 'anon' | 'file') => {
    const v = samples.map((s) => s[k]).sort((a, b) => a - b);
    return { median: +v[v.length >> 1].toFixed(1), peak: +v[v.length - 1].toFixed(1) };
  };
  return { rss: part('rss'), anon: part('anon'), file: part('file') };
}

const work = await mkdtemp(join(tmpdir(), 'tributary-bench-agent-'));
const bin = await asOnDevice(binaryPath('linux-x64'), work);
const hellos = new Map<string, (at: number) => void>();
const broker = await startEmbeddedBroker({
  port: 0,
  forward: (topic) => {
    const m = /^trib\/([^/]+)\/hello$/.exec(topic);
    if (m) hellos.get(m[1])?.(performance.now());
    return true;
  },
});
const master = await launchMaster(['--broker', broker.url, '--http-port', '0', '--data', join(work, 'master')]);
const worker = await launchNode('worker', 'w-1', ['--master', broker.url, '--data', join(work, 'w-1')]);
const probeFile = join(work, 'memory.json');
const agentEnv = {
  ...Object.fromEntries(values.env.map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)])),
  TRIBUTARY_MEMORY_PROBE: probeFile,
  NODE_OPTIONS: [`--require ${join(benchDir, 'lib/agent-memory-probe.cjs')}`, values.snapshot ? '--heapsnapshot-signal=SIGUSR2' : '', values['node-options']].filter(Boolean).join(' '),
};
const startAgent = (id: string): { agent: ChildNode; registered: Promise<number> } => {
  const registered = new Promise<number>((resolve) => hellos.set(id, resolve));
  const started = performance.now();
  const agent = spawnAgentBinary(id, 'linux-x64', ['--id', id, '--master', broker.url, '--data', join(work, id), '--log-level', 'warn'], { env: agentEnv, bin });
  return { agent, registered: registered.then((at) => at - started) };
};

try {
  // Start to registered, each run a fresh data dir (the addon is written out on first LevelDB use, not at start).
  const startMs: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const { agent, registered } = startAgent(`start-${i}`);
    startMs.push(await registered);
    await agent.stop();
  }
  startMs.sort((a, b) => a - b);

  // Idle: registered, heartbeating, no application.
  const { agent, registered } = startAgent('dev-1');
  await registered;
  await sleep(3000);
  const idle = await sampleRss(agent.child.pid!, 10_000);
  const idleMemory = JSON.parse(readFileSync(probeFile, 'utf8')) as unknown;
  // 1,000 records/s: plant-monitor's edge part on the agent, 2 sensors every 2 ms, paced.
  const output = join(work, 'windows.jsonl');
  const perSensor = (RATE / 2) * (SECONDS + 15);
  await submit(master.httpUrl, join(repoRoot, 'examples/plant-monitor.ts'), {
    count: String(perSensor), startTs: '0', intervalMs: '2', windowMs: '1000', seed: '7', paced: 'true', speed: '1', output,
  });
  for (let i = 0; i < 600 && !(existsSync(output) && statSync(output).size > 0); i++) await sleep(100);
  await sleep(5000); // past start-up: the replay log open, the JIT warm
  const cpu0 = cpuSeconds(agent.child.pid!);
  const t0 = performance.now();
  const loaded = await sampleRss(agent.child.pid!, SECONDS * 1000);
  const cpu = cpuSeconds(agent.child.pid!) - cpu0;
  const seconds = (performance.now() - t0) / 1000;
  const loadMemory = JSON.parse(readFileSync(probeFile, 'utf8')) as unknown;
  // Last: writing a snapshot costs the process memory of its own (malloc keeps it).
  let heapTop: Awaited<ReturnType<typeof heapSummary>> | null = null;
  if (values.snapshot) {
    const before = new Set(await readdir(process.cwd()));
    agent.child.kill('SIGUSR2');
    let snap: string | undefined;
    for (let i = 0; i < 100 && !snap; i++, await sleep(200)) snap = (await readdir(process.cwd())).find((f) => f.endsWith('.heapsnapshot') && !before.has(f));
    if (snap) {
      // Written by the agent in pieces: read once its size stops changing.
      const path = join(process.cwd(), snap);
      for (let last = -1, now = 0; now === 0 || now !== last; await sleep(1000)) [last, now] = [now, statSync(path).size];
      heapTop = await heapSummary(join(process.cwd(), snap));
      await rm(join(process.cwd(), snap));
    }
  }

  await agent.stop();

  const result = {
    node: JSON.parse(readFileSync(join(repoRoot, 'deploy/node-binaries.json'), 'utf8')).version as string,
    nodeOptions: values['node-options'],
    env: values.env,
    size,
    startToRegisteredMs: { median: +startMs[startMs.length >> 1].toFixed(0), min: +startMs[0].toFixed(0), max: +startMs[startMs.length - 1].toFixed(0), runs: RUNS },
    idleRssMB: idle,
    load: { recordsPerSecond: RATE, seconds: +seconds.toFixed(1), rssMB: loaded, agentCpuSec: +cpu.toFixed(2), recordsPerCpuSec: Math.round((RATE * seconds) / cpu) },
    memory: { idle: idleMemory, load: loadMemory, heapSnapshotTop: heapTop },
    targets: { xzMB: 30, startToRegisteredMs: 500, idleRssMB: 45, loadRssMB: 60 },
  };
  const x = size['linux-x64'];
  const a = size['linux-arm64'];
  console.log(`tributary-agent (Node ${result.node}${values['node-options'] ? `, ${values['node-options']}` : ''}):`);
  console.log(`  size            x64 ${x.rawMB} MB (xz ${x.xzMB} MB), arm64 ${a.rawMB} MB (xz ${a.xzMB} MB)        target xz <= 30 MB`);
  console.log(`  start->registered  median ${result.startToRegisteredMs.median} ms (min ${result.startToRegisteredMs.min}, max ${result.startToRegisteredMs.max}, ${RUNS} runs)   target <= 500 ms`);
  console.log(`  RSS idle        ${idle.rss.median} MB (anonymous ${idle.anon.median}, file-backed ${idle.file.median}); peak ${idle.rss.peak}   target <= 45 MB`);
  console.log(`  RSS 1,000 rec/s ${loaded.rss.median} MB (anonymous ${loaded.anon.median}, file-backed ${loaded.file.median}); peak ${loaded.rss.peak}   target <= 60 MB`);
  console.log(`  CPU             ${result.load.agentCpuSec} s over ${result.load.seconds} s = ${result.load.recordsPerCpuSec.toLocaleString('en')} records per CPU-second`);
  const mu = (m: unknown) => (m as { memoryUsage: Record<string, number> }).memoryUsage;
  for (const [name, m] of [['idle', idleMemory], ['load', loadMemory]] as const) {
    const u = mu(m);
    console.log(`  inside (${name})   heapUsed ${(u.heapUsed / MB).toFixed(1)} MB of heapTotal ${(u.heapTotal / MB).toFixed(1)}, external ${(u.external / MB).toFixed(1)}, arrayBuffers ${(u.arrayBuffers / MB).toFixed(1)}`);
  }
  if (heapTop) for (const h of heapTop.slice(0, 10)) console.log(`    heap (loaded): ${h.what.slice(0, 50).padEnd(50)} ${String(h.MB).padStart(6)} MB  (${h.count})`);
  await mkdir(resultsDir, { recursive: true });
  await writeFile(join(resultsDir, 'agent-latest.json'), JSON.stringify(result, null, 2) + '\n');
} finally {
  await worker.stop();
  await master.node.stop();
  await broker.close();
  await rm(work, { recursive: true, force: true });
}
