import test from 'ava';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DEFAULT_REMOTE_CREDITS } from '@tributary/shared';
import { api, startMaster, startNode, until, waitForNodesOnline } from './helpers/cluster.js';
import { repoRoot, tributary } from './helpers/cli.js';
import { tempDir } from './helpers/tmp.js';

/** An application with a sink that takes a timer turn per batch: far slower than its source. */
const SLOW_APP = (output: string) => `
import { appendFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { pipeline, simulatedSensors, type SinkSpec } from 'tributary';

const slowFile: SinkSpec<{ device: string; ts: number }> = {
  kind: 'sink', name: 'slow-file', maxParallelism: 1,
  create: () => ({
    open() {},
    async write(batch) {
      await sleep(5);
      await appendFile(${JSON.stringify(output)}, batch.map((m) => m.value.device + ' ' + m.value.ts + '\\n').join(''));
    },
    close() {},
  }),
};

export default pipeline('slow-sink')
  .source(simulatedSensors({ count: 100000, intervalMs: 1, startTs: 1700000000000, seed: 3 })).at('edge')
  .map((r) => ({ device: r.device, ts: r.ts }))
  .rebalance()
  .at('cloud')
  .sink(slowFile);
`;

test('a slow cloud sink throttles fast edge sources through the broker: queues bounded by credits, nothing lost', async (t) => {
  const dir = await tempDir();
  t.teardown(dir.cleanup);
  await mkdir(join(repoRoot, 'test-output'), { recursive: true });
  const appDir = await mkdtemp(join(repoRoot, 'test-output', 'slow-'));
  t.teardown(() => rm(appDir, { recursive: true, force: true }));
  const output = join(appDir, 'out.txt');
  const app = join(appDir, 'slow.mts');
  await writeFile(app, SLOW_APP(output));

  const master = await startMaster(join(dir.path, 'master'));
  const nodes = await Promise.all([
    startNode('worker', 'w-1', master.brokerUrl, dir.path),
    startNode('agent', 'dev-1', master.brokerUrl, dir.path),
    startNode('agent', 'dev-2', master.brokerUrl, dir.path),
  ]);
  t.teardown(async () => {
    await Promise.all(nodes.map((n) => n.stop()));
    await master.proc.stop();
  });
  await waitForNodesOnline(master.httpUrl, ['w-1', 'dev-1', 'dev-2']);

  const submit = await tributary(['submit', app, '--master', master.httpUrl]);
  t.is(submit.code, 0, submit.stderr);
  const done = await until('slow-sink finished', async () => {
    const { body } = await api(master.httpUrl, '/apps/slow-sink');
    if (body?.state === 'failed' || body?.error) throw new Error(`app failed: ${body.error}`);
    return body?.state === 'finished' ? body : undefined;
  }, 1200);

  const lines = (await readFile(output, 'utf8')).trim().split('\n');
  t.is(lines.length, 200_000, 'every reading of both devices reached the sink');
  t.is(new Set(lines).size, 200_000, 'no duplicates');
  const worker = done.nodes['w-1'];
  // Two upstream channels (one per agent), DEFAULT_REMOTE_CREDITS each: a queue beyond that would
  // mean the producers did not wait.
  t.true(worker.maxQueued <= 2 * DEFAULT_REMOTE_CREDITS + 2, `the slow sink's queue reached ${worker.maxQueued} batches`);
  t.true(worker.maxQueued >= 2, 'the sink really was the bottleneck');
  t.is(worker.wire.gaps, 0);
  t.is(worker.wire.framesRejected, 0);
});
