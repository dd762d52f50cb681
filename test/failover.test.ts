/**
 * Fail over, don't wait (issue 14): a worker SIGKILLed for good (never restarted) while a second
 * worker is up. The master learns it from the worker's last will, which the broker publishes as
 * soon as the connection drops: the node timeout is set far beyond the test's length, so no
 * heartbeat timeout can be what detected it. Its tasks move to the other worker at once, restart
 * from the latest complete checkpoint, the sources replay from its time, and the results are
 * exactly the failure-free ones.
 * With a worker that hosts nothing of the application, the tasks go there, and that worker held the
 * application as a hot standby (its bundle evaluated and its graph built, in a thread or inline,
 * nothing running; agents hold none): the run starts in it.
 */
import test from 'ava';
import { join } from 'node:path';
import { startNode, until, waitForNodesOnline } from './helpers/cluster.js';
import { compareWithReference as compare, plantApp as app, plantCluster as cluster, submitPlantMonitor as submit, untilFinished } from './helpers/plant-cluster.js';

// Read by the master this file's cluster spawns (children inherit the environment): 10 minutes.
process.env.TRIBUTARY_NODE_TIMEOUT_MS = '600000';

/**
 * The input: 60,000 readings per sensor per agent, paced at 100 event-time ms per wall-clock ms
 * (~6 s of data). Unpaced, a fast build got through all of it around the first complete
 * checkpoint, and a worker killed after its tasks had finished set off no recovery to wait for.
 */
const PACED = { count: '60000', startTs: '0', intervalMs: '10', windowMs: '1000', seed: '9', paced: 'true', speed: '100' };

test.serial('a worker killed for good: its tasks move to the other worker on its last will, and the results are exact', async (t) => {
  const c = await cluster(t);
  const p = { ...PACED, output: join(c.dir, 'windows.jsonl') };
  await submit(c, p);
  const running = await until('a complete checkpoint', async () => {
    const a = await app(c);
    return a.checkpoint !== null && a.checkpoint !== undefined && a.state === 'running' ? a : undefined;
  });
  const cloudTasks = (a: { tasks: { processor: number; index: number; node: string }[] }) => a.tasks.filter((x) => x.node.startsWith('w-'));
  const victim = running.tasks.find((x: { processor: number }) => x.processor === 1).node as string;
  const survivor = victim === 'w-1' ? 'w-2' : 'w-1';
  const moved = cloudTasks(running).filter((x) => x.node === victim).map((x) => `${x.processor}.${x.index}`);
  t.true(moved.length > 0);
  c.nodes.get(victim)!.child.kill('SIGKILL');

  const recovered = await until('the recovery', async () => {
    const a = await app(c);
    return a.epoch > running.epoch ? a : undefined;
  });
  t.regex(recovered.recovery.reason, new RegExp(`worker ${victim} went offline \\(last will`), 'detected by its last will, not a heartbeat timeout');
  for (const task of moved) {
    t.is(recovered.tasks.find((x: { processor: number; index: number }) => `${x.processor}.${x.index}` === task).node, survivor, `task ${task} moved to ${survivor} with its index`);
  }
  t.is(recovered.pending.length, 0, 'nothing waits for the dead worker');

  const done = await untilFinished(c);
  t.is(done.epoch, recovered.epoch, 'one recovery');
  t.false(done.tasks.some((x: { node: string }) => x.node === victim));
  await compare(t, p.output, p);
});

const takesOverInStandby = test.macro({
  async exec(t, isolation: 'thread' | 'inline') {
    const c = await cluster(t);
    // A third worker: the application's cloud tasks spread over w-1 and w-2 (windows, late sink), w-3 hosts none.
    c.nodes.set('w-3', await startNode('worker', 'w-3', c.master.brokerUrl, c.dir, {}, ['--isolation', isolation]));
    await waitForNodesOnline(c.master.httpUrl, ['w-3']);
    const p = { ...PACED, output: join(c.dir, 'windows.jsonl') };
    await submit(c, p);
    const running = await until('a complete checkpoint', async () => {
      const a = await app(c);
      return a.checkpoint !== null && a.checkpoint !== undefined && a.state === 'running' ? a : undefined;
    });
    const hosts = new Set<string>(running.tasks.map((x: { node: string }) => x.node));
    const idle = ['w-1', 'w-2', 'w-3'].filter((w) => !hosts.has(w));
    t.is(idle.length, 1, 'one worker hosts nothing of the application');
    const standbyOn = idle[0];
    const isStandby = (event: string) => (l: Record<string, unknown>) => l.event === event && l.app === 'plant-monitor';
    await c.nodes.get(standbyOn)!.waitFor(isStandby('standby-ready'), `a standby of plant-monitor on ${standbyOn}`);
    for (const id of [...hosts]) t.false(c.nodes.get(id)!.lines.some(isStandby('standby-ready')), `no standby on ${id}: it hosts tasks (or is an agent)`);

    const victim = running.tasks.find((x: { processor: number }) => x.processor === 1).node as string;
    const moved = running.tasks.filter((x: { node: string }) => x.node === victim).map((x: { processor: number; index: number }) => `${x.processor}.${x.index}`);
    c.nodes.get(victim)!.child.kill('SIGKILL');
    const recovered = await until('the recovery', async () => {
      const a = await app(c);
      return a.epoch > running.epoch ? a : undefined;
    });
    for (const task of moved) {
      t.is(recovered.tasks.find((x: { processor: number; index: number }) => `${x.processor}.${x.index}` === task).node, standbyOn, `task ${task} moved to the idle worker`);
    }
    const takeover = await c.nodes.get(standbyOn)!.waitFor(isStandby('standby-takeover'), `${standbyOn} taking over in its standby`);
    t.is(takeover.epoch, recovered.epoch, 'the takeover runs the recovery epoch');

    const done = await untilFinished(c);
    t.is(done.epoch, recovered.epoch, 'one recovery');
    await compare(t, p.output, p);
  },
  title: (_, isolation) => `a worker killed for good with an idle ${isolation} worker up: the idle one held the application as a standby and takes the tasks over in it, results exact`,
});

test.serial(takesOverInStandby, 'thread');
test.serial(takesOverInStandby, 'inline');
