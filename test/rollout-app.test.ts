import test from 'ava';
import { join } from 'node:path';
import { tributary } from './helpers/cli.js';
import { api, until } from './helpers/cluster.js';
import { compareWithReference, plantApp, plantCluster, submitPlantMonitor, untilFinished } from './helpers/plant-cluster.js';

/**
 * Application rollouts (issue 16, `tributary fleet rollout app`): a bounded plant-monitor run
 * (sensors and filter on agents dev-1 and dev-2, windows and sink on a worker) gets a new bundle
 * wave by wave, edge devices first — each wave a recovery in a new epoch with those nodes on the new
 * bundle — and once every node runs it, it is the application's. Then a broken bundle fails on its
 * canary: the rollout aborts and the canary goes back. Results must equal a failure-free run.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const rolloutOf = async (httpUrl: string, stdout: string): Promise<any> => {
  const id = /^rollout (\S+):/m.exec(stdout)?.[1];
  if (!id) throw new Error(`no rollout id in: ${stdout}`);
  return until(`rollout ${id} to end`, async () => {
    const x = await api(httpUrl, `/rollouts/${id}`);
    return ['succeeded', 'aborted', 'superseded'].includes(x.body.state) ? x.body : undefined;
  }, 1200, 250);
};

test('plant-monitor gets a new bundle wave by wave, a broken one stops at the canary, and the results are exact', async (t) => {
  // Two rollouts of several recoveries each through a paced minute of data.
  t.timeout(300_000);
  const c = await plantCluster(t);
  const p = { count: '6000', startTs: '0', intervalMs: '20', windowMs: '1000', seed: '11', paced: 'true', speed: '1', output: join(c.dir, 'windows.jsonl') };
  await submitPlantMonitor(c, p);
  const first = await until('plant-monitor running', async () => {
    const a = await plantApp(c);
    return a?.state === 'running' ? a : undefined;
  });
  const hosts = Object.keys(first.nodes).sort();
  const env = { TRIBUTARY_TOKEN: c.master.adminToken };

  // v2: the same application under another digest, to every node hosting it.
  const v2 = await tributary(['fleet', 'rollout', 'app', 'test/fixtures/plant-monitor-v2.ts', '--master', c.master.httpUrl, '--canary', '1', '--waves', '1,2', '--step-timeout', '90s'], env);
  t.is(v2.code, 0, v2.stderr);
  t.regex(v2.stdout, /app plant-monitor [0-9a-f]{12} to \d+ devices/);
  const r2 = await rolloutOf(c.master.httpUrl, v2.stdout);
  t.is(r2.state, 'succeeded', JSON.stringify(r2));
  t.deepEqual(Object.keys(r2.steps).sort(), hosts, 'every node hosting the application took part');
  t.true(r2.plan[0].every((id: string) => id.startsWith('dev-')), 'the canary is an edge device');
  for (const s of Object.values(r2.steps) as { state: string; bytes?: number }[]) {
    t.is(s.state, 'succeeded');
    t.true((s.bytes ?? 0) >= r2.bundle.bytes, 'the master counted the bundle it sent the device');
  }
  t.deepEqual(r2.versions, { [r2.version.slice(0, 12)]: hosts.length });
  const promoted = await plantApp(c);
  t.is(promoted.bundleSha256, r2.version, 'once on every node, the new bundle is the application\'s');
  t.is(promoted.candidate, undefined);
  t.true(promoted.epoch > first.epoch, 'each wave was a recovery of the application');

  // v3: broken on devices. The canary fails (and is put back on v2 at once), the rollout aborts.
  const v3 = await tributary(['fleet', 'rollout', 'app', 'test/fixtures/plant-monitor-broken.ts', '--master', c.master.httpUrl, '--canary', '1', '--waves', '1,2', '--step-timeout', '90s'], env);
  t.is(v3.code, 0, v3.stderr);
  const r3 = await rolloutOf(c.master.httpUrl, v3.stdout);
  t.is(r3.state, 'aborted', JSON.stringify(r3));
  const canary = r3.plan[0][0] as string;
  t.is(r3.steps[canary].state, 'failed', JSON.stringify(r3.steps[canary]));
  t.regex(r3.steps[canary].reason, /the application failed on the new bundle: .*broken on devices/);
  t.regex(r3.reason, /1 of 1 device steps failed/);
  for (const id of r3.plan.slice(1).flat() as string[]) t.is(r3.steps[id].state, 'cancelled');
  t.deepEqual(r3.versions, { [r2.version.slice(0, 12)]: hosts.length }, 'every node is back on v2');
  const after = await plantApp(c);
  t.is(after.bundleSha256, r2.version);
  t.is(after.candidate, undefined);

  // A bundle of another shape is refused before anything changes.
  const other = await tributary(['fleet', 'rollout', 'app', 'test/fixtures/plant-monitor-reshaped.ts', '--app', 'plant-monitor', '--master', c.master.httpUrl], env);
  t.not(other.code, 0);
  t.regex(other.stderr, /TRIB_ERR_ROLLOUT_INVALID.*changes the application's shape/);
  t.is((await plantApp(c)).epoch, after.epoch, 'nothing restarted');

  const metrics = await (await fetch(`${c.master.httpUrl}/metrics`)).text();
  t.regex(metrics, /tributary_rollout_steps_total\{outcome="failed"\} [1-9]/);
  t.regex(metrics, /tributary_device_sent_bytes_total [1-9]/);

  // The canary back on v2 processes its data again: the application finishes, exactly.
  await untilFinished(c);
  await compareWithReference(t, p.output, p);
});
