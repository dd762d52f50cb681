/**
 * A plant-monitor cluster for the exactly-once and store-and-forward tests: a master (its embedded
 * broker, or the one `extra` names), workers w-1 and w-2, agents dev-1 and dev-2, each a separate
 * process with its own data dir; plant-monitor submitted with file output; results compared with
 * the failure-free reference computed by a plain loop.
 */
import type { ExecutionContext } from 'ava';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expectedPlantWindows, plantKey, type PlantWindow } from '../../chaos/reference.js';
import { api, startMaster, startNode, until, waitForNodesOnline, type Proc, type RunningMaster } from './cluster.js';
import { tributary } from './cli.js';
import { tempDir } from './tmp.js';

export interface PlantCluster {
  master: RunningMaster;
  dir: string;
  nodes: Map<string, Proc>;
}

export const AGENTS = ['dev-1', 'dev-2'];

export async function plantCluster(t: ExecutionContext, extra: string[] = [], agents = AGENTS): Promise<PlantCluster> {
  const dir = await tempDir();
  t.teardown(dir.cleanup);
  const master = await startMaster(join(dir.path, 'master'), extra);
  const nodes = new Map<string, Proc>();
  t.teardown(async () => {
    await Promise.all([...nodes.values()].map((n) => n.stop()));
    await master.proc.stop();
  });
  const add = async (kind: 'worker' | 'agent', id: string) => nodes.set(id, await startNode(kind, id, master.brokerUrl, dir.path));
  await Promise.all([add('worker', 'w-1'), add('worker', 'w-2'), ...agents.map((id) => add('agent', id))]);
  await waitForNodesOnline(master.httpUrl, ['w-1', 'w-2', ...agents]);
  return { master, dir: dir.path, nodes };
}

export async function submitPlantMonitor(c: PlantCluster, p: Record<string, string>, file = 'examples/plant-monitor.ts'): Promise<void> {
  const args = Object.entries(p).flatMap(([k, v]) => ['--param', `${k}=${v}`]);
  const r = await tributary(['submit', file, '--master', c.master.httpUrl, ...args]);
  if (r.code !== 0) throw new Error(r.stderr);
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const plantApp = async (c: PlantCluster, id = 'plant-monitor'): Promise<any> => (await api(c.master.httpUrl, `/apps/${id}`)).body;

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const untilFinished = (c: PlantCluster): Promise<any> =>
  until('the application to finish', async () => {
    const a = await plantApp(c);
    return a.state === 'finished' ? a : undefined;
  }, 1200);

/** The JSON lines of a file written so far (none when it does not exist yet). */
export async function readLines<T>(path: string): Promise<T[]> {
  const text = await readFile(path, 'utf8').catch(() => '');
  return text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as T);
}

/** Results compared with the failure-free reference: every window once, none lost, none wrong. */
export async function compareWithReference(t: ExecutionContext, output: string, p: Record<string, string>): Promise<void> {
  const lines = await readLines<PlantWindow>(output);
  const expected = await expectedPlantWindows(AGENTS, p);
  const keys = lines.map(plantKey);
  t.is(new Set(keys).size, keys.length, 'no result twice');
  t.is(lines.length, expected.size, 'no result lost');
  for (const w of lines) t.deepEqual(w, expected.get(plantKey(w)), `window ${plantKey(w)}`);
}
