import test from 'ava';
import { join } from 'node:path';
import { repoRoot, tributary } from './helpers/cli.js';
import { startNode, until, waitForNodesOnline, type Proc } from './helpers/cluster.js';
import { compareWithReference, plantApp, untilFinished, type PlantCluster } from './helpers/plant-cluster.js';
import { rolloutAndWait, startFleet, fleetVersions } from './helpers/rollout-fleet.js';

/**
 * A bounded plant-monitor run goes on through agent rollouts (issue 16): the two agents that host
 * its sensors are updated v1 -> v2 one after the other (each restarts on its new version), then a
 * broken v3 crash-loops on the canary and is rolled back by the start guard. Every restart is a
 * recovery of the application (a new epoch; the agent's replay log replays what was not
 * checkpointed), and the results must be exactly those of a failure-free run.
 */
const goodAgent = (v: string) => `#!/bin/sh\n# tributary test agent ${v}\nexec '${process.execPath}' '${join(repoRoot, 'cli/bin/tributary.js')}' agent "$@"\n`;

test('plant-monitor through a rollout v1 -> v2 and an aborted broken v3: results identical to a failure-free run', async (t) => {
  const fleet = await startFleet({
    n: 2, installed: 'v1', replayLog: true,
    versions: { v1: { script: goodAgent('v1') }, v2: { script: goodAgent('v2') }, v3: { script: '#!/bin/sh\nexit 1\n' } },
  });
  const workers: Proc[] = [];
  t.teardown(async () => {
    await Promise.all(workers.map((w) => w.stop()));
    await fleet.stop();
  });
  for (const w of ['w-1', 'w-2']) workers.push(await startNode('worker', w, fleet.master.brokerUrl, fleet.dir));
  await waitForNodesOnline(fleet.master.httpUrl, ['w-1', 'w-2', ...fleet.ids]);
  const c: PlantCluster = { master: fleet.master, dir: fleet.dir, nodes: new Map() };
  const p = { count: '2000', startTs: '0', intervalMs: '20', windowMs: '1000', seed: '7', paced: 'true', speed: '1', output: join(fleet.dir, 'windows.jsonl') };
  const submit = await tributary(['submit', 'examples/plant-monitor.ts', '--master', fleet.master.httpUrl, ...Object.entries(p).flatMap(([k, v]) => ['--param', `${k}=${v}`])], { TRIBUTARY_TOKEN: fleet.master.adminToken });
  t.is(submit.code, 0, submit.stderr);
  const first = await until('plant-monitor running', async () => {
    const a = await plantApp(c);
    return a?.state === 'running' ? a : undefined;
  });

  const r2 = await rolloutAndWait(fleet, { version: 'v2', selector: { fleet: 'test' }, canary: 1, waves: { base: 1, factor: 1 }, maxFailuresPercent: 0, stepTimeoutMs: 90_000 });
  t.is(r2.state, 'succeeded', JSON.stringify(r2));
  const r3 = await rolloutAndWait(fleet, { version: 'v3', selector: { fleet: 'test' }, canary: 1, waves: { base: 1, factor: 1 }, maxFailuresPercent: 0, stepTimeoutMs: 90_000 });
  t.is(r3.state, 'aborted', JSON.stringify(r3));
  t.deepEqual(await fleetVersions(fleet), { 'w-1': '?', 'w-2': '?', 'dev-1': 'v2', 'dev-2': 'v2' });

  const done = await untilFinished(c);
  t.true(done.epoch >= first.epoch + 2, `the agents' restarts were recoveries of the application (epoch ${first.epoch} -> ${done.epoch})`);
  await compareWithReference(t, p.output, p);
});
