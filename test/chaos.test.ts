import test, { type ExecutionContext } from 'ava';
import { runChaos, type ChaosOptions, type ChaosReport } from '../chaos/run.js';

/**
 * The chaos command, small: the same code as `npm run chaos`, a full local cluster (standalone
 * broker, master, 2 workers, 3 agents as processes), results compared window by window with the
 * failure-free reference. Serial: each run is a whole cluster, on a small machine.
 */
async function chaos(t: ExecutionContext, o: ChaosOptions): Promise<ChaosReport> {
  const lines: string[] = [];
  const report = await runChaos({ ...o, reportDir: null, say: (l) => lines.push(l) });
  if (!report.ok) t.log(lines.join('\n'));
  return report;
}

function assertClean(t: ExecutionContext, r: ChaosReport): void {
  t.deepEqual(r.failures, [], `failures (process logs: ${r.run.logDir})`);
  t.truthy(r.comparison);
  t.true(r.comparison!.compared > 0);
  t.like(r.comparison!, { lost: 0, duplicated: 0, wrong: 0, unexpected: 0, malformed: 0, late: 0 });
  t.is(r.comparison!.outputLines, r.comparison!.compared, 'one line per window');
  t.true(r.ok);
}

test.serial('chaos without kills: the cluster run equals the reference', async (t) => {
  // 150 readings 20 ms apart: 3 s of paced data per sensor.
  const r = await chaos(t, { seed: 3, kills: 0, count: 150 });
  assertClean(t, r);
  t.deepEqual(r.run.kills, []);
});

test.serial('chaos with 2 seeded kills (an agent, then the master): recovered, and still exactly the reference', async (t) => {
  // Seed 9 plans: agent dev-1 (+1.7 s, down 0.8 s), then the master (+2.2 s, down 1.4 s).
  // 1,800 readings 20 ms apart: 36 s of paced data, room for both kills and their recoveries.
  const r = await chaos(t, { seed: 9, kills: 2, count: 1800, timeoutMs: 30_000 });
  t.deepEqual(r.plan.map((f) => f.kind), ['agent', 'master']);
  assertClean(t, r);
  t.is(r.run.kills.length, 2);
  for (const k of r.run.kills) t.true(k.recoveryMs !== undefined && !k.timedOut, `${k.kind} ${k.target} recovered`);
});
