import test from 'ava';
import { readFile, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { binaryPath, buildAgentBinaries, pathWithoutNode } from './helpers/agent-binary.js';
import { fleetVersions, rolloutAndWait, startFleet, type Fleet } from './helpers/rollout-fleet.js';

/**
 * The same rollouts as test/rollout.test.ts with the single binary itself (deploy/build-agent.mjs,
 * linux-x64): six agent processes that are the SEA binary, run from their slots with a PATH that
 * holds no node. v1 and v2 are the same build served under two version labels (a slot's version
 * is its label); v3 is a signed "binary" that dies at once.
 */
let fleet: Fleet;

test.before(async () => {
  await buildAgentBinaries(['linux-x64']);
  const sea = { file: binaryPath('linux-x64') };
  fleet = await startFleet({
    n: 6, installed: 'v1', agentEnv: { PATH: pathWithoutNode() },
    versions: { v1: sea, v2: sea, v3: { script: '#!/bin/sh\nexit 1\n' } },
  });
});

test.after.always(async () => {
  await fleet?.stop();
});

test.serial('single binary: v1 -> v2 wave by wave, every device downloads, verifies, switches slots and commits', async (t) => {
  const r = await rolloutAndWait(fleet, { version: 'v2', selector: { fleet: 'test' }, canary: 1, waves: { base: 2, factor: 2 }, maxFailuresPercent: 0, stepTimeoutMs: 120_000 });
  t.is(r.state, 'succeeded', JSON.stringify(r));
  t.deepEqual(r.plan, [['dev-1'], ['dev-2', 'dev-3'], ['dev-4', 'dev-5', 'dev-6']]);
  t.deepEqual(await fleetVersions(fleet), Object.fromEntries(fleet.ids.map((id) => [id, 'v2'])));
  for (const id of fleet.ids) {
    t.regex(await readFile(join(fleet.dir, id, 'agent/result'), 'utf8'), /^committed v2 /, id);
    t.true((await readFile(join(fleet.dir, id, 'agent/current'))).equals(await readFile(binaryPath('linux-x64'))), `${id} runs the binary from its new slot`);
    t.is(await readlink(join(fleet.dir, id, 'agent/current')), 'slots/b/tributary-agent', `${id}: switched from slot a to b`);
  }
});

test.serial('single binary: a broken v3 stops after the canary and every device ends on v2', async (t) => {
  const r = await rolloutAndWait(fleet, { version: 'v3', selector: { fleet: 'test' }, canary: 1, waves: { base: 2, factor: 2 }, maxFailuresPercent: 0, stepTimeoutMs: 120_000 });
  t.is(r.state, 'aborted', JSON.stringify(r));
  t.like(r.steps['dev-1'], { state: 'failed', from: 'v2' });
  t.regex(r.steps['dev-1'].reason, /crash loop/);
  t.deepEqual(await fleetVersions(fleet), Object.fromEntries(fleet.ids.map((id) => [id, 'v2'])));
});
