import test from 'ava';
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { api } from './helpers/cluster.js';
import { repoRoot, tributary } from './helpers/cli.js';
import { rolloutAndWait, startFleet, type Fleet } from './helpers/rollout-fleet.js';

/**
 * Remote configuration rollouts end to end (issue 16, `tributary fleet rollout config`): a real
 * master and three real agents in slots under the supervise loop (test/helpers/rollout-fleet.ts).
 * A configuration reaches the canary, then the waves; each agent verifies the master's signature,
 * restarts with it on trial and commits it once healthy. One the agents refuse stops at the canary.
 * (An agent taking a configuration back by itself at its deadline: test/agent-config-agent.test.ts.)
 */
const goodAgent = `#!/bin/sh\nexec '${process.execPath}' '${join(repoRoot, 'cli/bin/tributary.js')}' agent "$@"\n`;

let ctx: Fleet;

test.before(async () => {
  ctx = await startFleet({ n: 3, installed: 'v1', versions: { v1: { script: goodAgent } } });
});

test.after.always(async () => {
  await ctx?.stop();
});

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const configs = async (): Promise<Record<string, any>> => {
  const nodes = (await api(ctx.master.httpUrl, '/nodes')).body as { id: string; agent?: { config?: unknown } }[];
  return Object.fromEntries(nodes.map((n) => [n.id, n.agent?.config]));
};

test.serial('a configuration goes out canary first, then in waves; every agent restarts with it and commits it', async (t) => {
  const file = join(ctx.dir, 'faster-heartbeats.json');
  const config = { heartbeatMs: 400, updateHealthyMs: 800 };
  await writeFile(file, JSON.stringify(config));
  const env = { TRIBUTARY_TOKEN: ctx.master.adminToken };
  const started = await tributary(['fleet', 'rollout', 'config', file, '--selector', 'fleet=test', '--canary', '1', '--waves', '2,2', '--step-timeout', '90s', '--master', ctx.master.httpUrl], env);
  t.is(started.code, 0, started.stderr);
  const id = /^rollout (\S+): config ([0-9a-f]{12}) to 3 devices in waves of 1, 2$/m.exec(started.stdout);
  t.truthy(id, started.stdout);
  const watched = await tributary(['fleet', 'status', id![1]!, '--watch', '--master', ctx.master.httpUrl], env);
  t.is(watched.code, 0, watched.stderr);
  t.regex(watched.stdout, /config [0-9a-f]{12}  succeeded/);
  const sha = createHash('sha256').update(JSON.stringify(config)).digest('hex');
  t.regex(watched.stdout, new RegExp(`versions: ${sha.slice(0, 12)} 3`));
  const r = (await api(ctx.master.httpUrl, `/rollouts/${id![1]}`)).body;
  t.is(r.version, sha, 'the version of a configuration is the digest of its bytes');
  for (const dev of ctx.ids) {
    t.like(r.steps[dev], { state: 'succeeded', from: 'none' }, dev);
    t.true(r.steps[dev].bytes > 0, 'the configuration sent is counted');
    // On the device: the layer in force is the configuration, verified and committed.
    t.deepEqual(JSON.parse(await readFile(join(ctx.dir, dev, 'agent', 'config.json'), 'utf8')), config, dev);
  }
  for (const c of Object.values(await configs())) t.like(c, { version: sha, state: 'committed' });
});

test.serial('a configuration the agents refuse stops at the canary: the rollout aborts and no other agent gets it', async (t) => {
  const before = await configs();
  const r = await rolloutAndWait(ctx, { kind: 'config', config: { slots: 0 }, selector: { fleet: 'test' }, canary: 1, waves: { base: 2, factor: 2 }, maxFailuresPercent: 0, stepTimeoutMs: 90_000 });
  t.is(r.state, 'aborted', JSON.stringify(r));
  const canary = r.plan[0][0] as string;
  t.is(r.steps[canary].state, 'failed');
  t.regex(r.steps[canary].reason, /failed: .*slots/);
  for (const dev of r.plan.slice(1).flat() as string[]) t.is(r.steps[dev].state, 'cancelled');
  const after = await configs();
  for (const dev of ctx.ids) t.is(after[dev].version, before[dev].version, `${dev} keeps its configuration`);
});

test.serial('the master refuses a configuration that would change who or where an agent is', async (t) => {
  const res = await api(ctx.master.httpUrl, '/rollouts', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ kind: 'config', config: { master: 'http://elsewhere', heartbeatMs: 500 } }) });
  t.is(res.status, 400);
  t.is(res.body.code, 'TRIB_ERR_ROLLOUT_INVALID');
  t.regex(res.body.error, /may not set master/);
});
