import test from 'ava';
import { AGENTS, plantApp, plantCluster, submitPlantMonitor } from './helpers/plant-cluster.js';
import { startNode, until } from './helpers/cluster.js';
import { expectedPlantWindows, plantKey, type PlantWindow } from './helpers/plant-reference.js';
import { startPostgres } from './helpers/postgres.js';
import { runChaos } from '../chaos/run.js';

const APP = 'plant-to-postgres';

interface Row {
  device: string;
  sensor: string;
  window_start: string;
  window_end: string;
  count: number;
  min: number;
  max: number;
  avg: number;
}

test.serial('plant-to-postgres through a worker SIGKILL, an agent SIGKILL and a PostgreSQL crash: the table equals the failure-free reference row for row', async (t) => {
  t.timeout(600_000);
  const started = Date.now();
  const step = (what: string) => t.log(`${((Date.now() - started) / 1000).toFixed(1)} s: ${what}`);
  const db = await startPostgres();
  t.teardown(() => db.destroy());
  // No key on the table: a duplicate row would show (the example's own DDL has one; IF NOT EXISTS keeps this).
  await db.query(`CREATE TABLE plant_windows (device text NOT NULL, sensor text NOT NULL, window_start bigint NOT NULL,
    window_end bigint NOT NULL, count integer NOT NULL, min double precision, max double precision, avg double precision)`);
  const c = await plantCluster(t);
  // 60,000 readings per sensor 10 ms apart (600 s of event time) paced at 10x: about 60 s of run,
  // long enough for three faults and their recoveries on a loaded machine.
  const p = { count: '60000', startTs: '0', intervalMs: '10', windowMs: '1000', seed: '5', paced: 'true', speed: '10', postgres: db.url };
  await submitPlantMonitor(c, p, 'examples/plant-to-postgres.ts');
  const app = () => plantApp(c, APP);
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const progressed = (what: string, after: number, epoch = 0): Promise<any> => until(what, async () => {
    const a = await app();
    return a?.state === 'running' && typeof a.checkpoint === 'number' && a.checkpoint > after && a.epoch >= epoch ? a : undefined;
  }, 1200);

  // 1. The worker running the windows and the sink.
  const first = await progressed('a complete checkpoint', -Infinity);
  const victim = first.tasks.find((x: { processor: number }) => x.processor === 1).node as string;
  step(`checkpoint ${first.checkpoint}: SIGKILL worker ${victim}`);
  await c.nodes.get(victim)!.stop('SIGKILL');
  const afterWorker = await progressed('recovery from the worker kill', first.checkpoint, first.epoch + 1);

  // 2. An agent (its sources and replay log), restarted on the same data dir.
  step(`recovered (epoch ${afterWorker.epoch}): SIGKILL agent dev-1`);
  await c.nodes.get('dev-1')!.stop('SIGKILL');
  c.nodes.set('dev-1', await startNode('agent', 'dev-1', c.master.brokerUrl, c.dir));
  const afterAgent = await progressed('recovery from the agent kill', afterWorker.checkpoint, afterWorker.epoch + 1);

  // 3. PostgreSQL crashes (immediate stop: connections cut, open transactions lost) and comes back.
  // The sink's task may be between instances right after a recovery: crash the database while it holds a connection.
  await until('the sink to hold a connection', async () => ((await db.query(`SELECT 1 FROM pg_stat_activity WHERE application_name = 'tributary-sink'`)).rowCount ?? 0) > 0 || undefined);
  step(`recovered (epoch ${afterAgent.epoch}): PostgreSQL immediate stop`);
  await db.stop('immediate');
  await db.start();
  // The sink connects again by itself (its connection died with the server).
  await until('the sink to reconnect', async () => ((await db.query(`SELECT 1 FROM pg_stat_activity WHERE application_name = 'tributary-sink'`)).rowCount ?? 0) > 0 || undefined);
  step('the sink reconnected');

  const done = await until('the application to finish', async () => {
    const a = await app();
    return a?.state === 'finished' ? a : undefined;
  }, 1200);
  step('finished');
  t.true(done.epoch >= 3, 'two recoveries at least');

  const rows = (await db.query<Row>('SELECT * FROM plant_windows')).rows;
  const got: PlantWindow[] = rows.map((r) => ({ device: r.device, sensor: r.sensor, windowStart: Number(r.window_start), windowEnd: Number(r.window_end), count: r.count, min: r.min, max: r.max, avg: r.avg }));
  const expected = await expectedPlantWindows(AGENTS, p);
  const keys = got.map(plantKey);
  t.is(new Set(keys).size, keys.length, 'no row twice');
  t.is(got.length, expected.size, 'no row lost');
  for (const w of got) t.deepEqual(w, expected.get(plantKey(w)), `row ${plantKey(w)}`);
  t.is((await db.query('SELECT * FROM tributary_sink_refused')).rowCount, 0, 'no row refused');
});

test.serial('the chaos command into PostgreSQL: a worker, the master, an agent, the broker and PostgreSQL killed; the table equals the reference', async (t) => {
  t.timeout(600_000);
  const lines: string[] = [];
  // Seed 63 plans, with every kind: worker-1, the master, agent dev-1, the broker, PostgreSQL (immediate stop).
  // 4,000 readings 20 ms apart: 80 s of paced data, room for five kills and their recoveries.
  const r = await runChaos({ seed: 63, kills: 5, sink: 'postgres', count: 4000, timeoutMs: 30_000, reportDir: null, say: (l) => lines.push(l) });
  if (!r.ok) t.log(lines.join('\n'));
  t.deepEqual(r.plan.map((f) => f.kind), ['worker', 'master', 'agent', 'broker', 'postgres']);
  t.deepEqual(r.failures, [], `failures (process logs: ${r.run.logDir})`);
  t.true(r.comparison!.compared > 0);
  t.like(r.comparison!, { lost: 0, duplicated: 0, wrong: 0, unexpected: 0, malformed: 0, late: 0 });
  t.is(r.comparison!.outputLines, r.comparison!.compared, 'one row per window');
  for (const k of r.run.kills) t.true(k.recoveryMs !== undefined && !k.timedOut, `${k.kind} ${k.target} recovered`);
});
