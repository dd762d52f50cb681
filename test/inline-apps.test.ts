/**
 * Applications inside the agent (isolation `inline`, the agents' default): several applications
 * share the agent's main thread, so one that throws must fail alone and one that blocks the event
 * loop must be reported. Real processes: a master, an agent (compiled CLI), applications bundled
 * and submitted with `tributary submit`.
 */
import test, { type ExecutionContext } from 'ava';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { launchNode, nodeMasterArgs } from '../cli/src/launcher.js';
import { api, startMaster, until, waitForNodesOnline, type Proc, type RunningMaster } from './helpers/cluster.js';
import { repoRoot, tributary } from './helpers/cli.js';
import { tempDir } from './helpers/tmp.js';

const START = 1_700_000_000_000;

async function setUp(t: ExecutionContext, agentArgs: string[] = []): Promise<{ master: RunningMaster; agent: Proc; dir: string; apps: string }> {
  const dir = await tempDir();
  t.teardown(dir.cleanup);
  const master = await startMaster(join(dir.path, 'master'));
  const agent = await launchNode('agent', 'dev-1', [...(await nodeMasterArgs('agent', 'dev-1', master.brokerUrl, join(dir.path, 'dev-1'))), '--data', join(dir.path, 'dev-1'), ...agentArgs]);
  t.teardown(async () => {
    await agent.stop();
    await master.proc.stop();
  });
  await waitForNodesOnline(master.httpUrl, ['dev-1']);
  await mkdir(join(repoRoot, 'test-output'), { recursive: true });
  const apps = await mkdtemp(join(repoRoot, 'test-output', 'inline-'));
  t.teardown(() => rm(apps, { recursive: true, force: true }));
  return { master, agent, dir: dir.path, apps };
}

async function submit(t: ExecutionContext, master: RunningMaster, file: string, params: Record<string, string> = {}): Promise<void> {
  const r = await tributary(['submit', file, '--master', master.httpUrl, ...Object.entries(params).flatMap(([k, v]) => ['--param', `${k}=${v}`])]);
  t.is(r.code, 0, r.stderr);
}

/** The error the master reports for `app` (from its nodes' heartbeats), once there is one. */
function errorOf(master: RunningMaster, app: string): Promise<string> {
  return until(`${app} reported failed`, async () => {
    const { body } = await api(master.httpUrl, `/apps/${app}`);
    return body?.error && body.nodes?.['dev-1']?.state === 'failed' ? (body.error as string) : undefined;
  });
}

/** Paced readings (~3 s of wall time), every one written to a file on the agent. */
const STEADY = `
  import { jsonLinesSink, pipeline, simulatedSensors, type Params } from 'tributary';
  export default (params: Params) => pipeline('steady')
    .source(simulatedSensors({ count: 300, intervalMs: 100, startTs: ${START}, paced: true, speed: 10 })).at('edge')
    .map((r) => ({ ts: r.ts, device: r.device, value: r.value }))
    .sink(jsonLinesSink(params.string('output')));
`;

/** Throws in a map function after 50 records: a task's error. */
const BAD_MAP = `
  import { pipeline, simulatedSensors, stdoutSink } from 'tributary';
  let seen = 0;
  export default pipeline('bad-map')
    .source(simulatedSensors({ count: 1000, intervalMs: 100, startTs: ${START}, paced: true, speed: 10 })).at('edge')
    .map((r) => { if (++seen > 50) throw new Error('decoder exploded after 50 records'); return r; })
    .sink(stdoutSink());
`;

/** A source whose own timer callback throws: outside every task's try. */
const BAD_TIMER = `
  import { pipeline, stdoutSink, type Source, type SourceSpec } from 'tributary';
  const ticking: SourceSpec<{ n: number }> = {
    kind: 'source', name: 'ticking', watermark: { maxDelayMs: 0 }, maxParallelism: 1,
    create(): Source<{ n: number }> {
      let n = 0;
      return {
        open() { setTimeout(() => { throw new Error('timer callback exploded'); }, 300); },
        async read() {
          await new Promise((r) => setTimeout(r, 20));
          return n < 1000 ? [{ ts: ${START} + n * 100, value: { n: n++ } }] : null;
        },
        close() {},
      };
    },
  };
  export default pipeline('bad-timer').source(ticking).at('edge').sink(stdoutSink());
`;

test.serial('two applications that throw on an inline agent fail alone; the agent stays up and the third one produces every result', async (t) => {
  const { master, agent, dir, apps } = await setUp(t);
  t.is((await agent.waitFor((l) => l.msg === 'agent started', 'agent started')).isolation, 'inline');
  let agentExited = false;
  void agent.exited.then(() => (agentExited = true));
  const files = { steady: join(apps, 'steady.mts'), badMap: join(apps, 'bad-map.mts'), badTimer: join(apps, 'bad-timer.mts') };
  await writeFile(files.steady, STEADY);
  await writeFile(files.badMap, BAD_MAP);
  await writeFile(files.badTimer, BAD_TIMER);
  const output = join(dir, 'steady.jsonl');

  await submit(t, master, files.steady, { output });
  await submit(t, master, files.badMap);
  await submit(t, master, files.badTimer);

  t.regex(await errorOf(master, 'bad-map'), /^\[TRIB_ERR_TASK_FAILED\] .*decoder exploded after 50 records/);
  t.regex(await errorOf(master, 'bad-timer'), /^\[TRIB_ERR_TASK_FAILED\] uncaughtException in application code: timer callback exploded/);

  const steady = await until('steady finished', async () => {
    const { body } = await api(master.httpUrl, '/apps/steady');
    return body?.state === 'finished' ? body : undefined;
  });
  t.is(steady.error, undefined);
  const rows = (await readFile(output, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { ts: number; device: string; value: number });
  t.is(rows.length, 300, 'every reading exactly once');
  t.deepEqual(rows.map((r) => r.ts), Array.from({ length: 300 }, (_, i) => START + i * 100));
  t.true(rows.every((r) => r.device === 'dev-1' && typeof r.value === 'number'));

  const { body: node } = await api(master.httpUrl, '/nodes');
  const dev1 = (node as { id: string; online: boolean; eventLoop?: { unattributedErrors: number } }[]).find((n) => n.id === 'dev-1');
  t.true(dev1?.online, 'the agent is still registered and online');
  t.is(dev1?.eventLoop?.unattributedErrors, 0, 'both errors were blamed on their application');
  t.false(agentExited, 'the agent process is alive');
  t.is(await agent.stop(), 0, 'and stops cleanly');
});

/** Blocks the event loop 600 ms on its 20th record. */
const BLOCKER = `
  import { pipeline, simulatedSensors, stdoutSink } from 'tributary';
  let seen = 0;
  export default pipeline('blocker')
    .source(simulatedSensors({ count: 100, intervalMs: 100, startTs: ${START} })).at('edge')
    .map((r) => {
      if (++seen === 20) { const until = Date.now() + 600; while (Date.now() < until) { /* busy */ } }
      return r;
    })
    .sink(stdoutSink());
`;

test.serial('an inline application that blocks the event loop is reported by the watchdog, in the log and through the master', async (t) => {
  const { master, agent, apps } = await setUp(t, ['--watchdog-ms', '300']);
  const file = join(apps, 'blocker.mts');
  await writeFile(file, BLOCKER);
  const logged = agent.waitFor((l) => l.app === 'blocker' && typeof l.msg === 'string' && l.msg.includes('blocked the event loop'), 'watchdog log line');
  await submit(t, master, file);
  const line = await logged;
  t.true((line.ms as number) >= 300, `reported ${String(line.ms)} ms`);
  t.regex(String(line.where), /\.onNext$/);

  const stalls = await until('stalls in the heartbeat', async () => {
    const { body } = await api(master.httpUrl, '/nodes');
    const dev1 = (body as { id: string; apps: Record<string, { stalls?: { count: number; maxMs: number } }> }[]).find((n) => n.id === 'dev-1');
    return dev1?.apps.blocker?.stalls;
  });
  t.is(stalls.count, 1);
  t.true(stalls.maxMs >= 300);
  const { body } = await api(master.httpUrl, '/apps/blocker');
  t.is(body.error, undefined, 'a stall is reported, not a failure');
  t.is(body.nodes['dev-1'].stalls.count, 1, 'and shown with the application');
  const { body: nodes } = await api(master.httpUrl, '/nodes');
  const dev1 = (nodes as { id: string; eventLoop?: { unattributedStalls: number; unattributedErrors: number } }[]).find((n) => n.id === 'dev-1');
  t.is(dev1?.eventLoop?.unattributedErrors, 0, 'the node reports its own counts too');
});
