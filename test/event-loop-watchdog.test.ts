/**
 * The event-loop watchdog of inline hosting (shared/src/node/event-loop-watchdog.ts): a long task
 * call is blamed on its application at once; many short calls that together held the loop go to
 * the application that made them; a stall outside any application's code is unattributed.
 * Real time, real busy loops; every expectation waits for the watchdog's own report.
 */
import test from 'ava';
import { Graph } from '../shared/src/api/dag/graph.js';
import { ANYWHERE } from '../shared/src/api/dag/placement.js';
import { Task, type TaskContext } from '../shared/src/api/task/task.js';
import { collectionSource } from '../shared/src/api/source/collection-source.js';
import { EventLoopWatchdog } from '../shared/src/node/event-loop-watchdog.js';

function spin(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) { /* busy */ }
}

class Busy extends Task {
  onNext(msg: { ts: number; value: unknown }): void {
    if (typeof msg.value !== 'number') throw new TypeError('not a number');
    spin(msg.value);
  }
}

const graph = new Graph('busy', [{ id: 0, name: 'src', parallelism: 1, placement: ANYWHERE, taskFactory: (ctx) => new Busy(ctx), source: collectionSource([]), config: {}, chain: ['src'] }], []);

function watched(thresholdMs: number) {
  const stalls: { app: string | null; ms: number; where: string }[] = [];
  let notify: () => void = () => {};
  const dog = new EventLoopWatchdog(thresholdMs, (app, ms, where) => {
    stalls.push({ app, ms, where });
    notify();
  });
  // The watchdog's timer does not keep a process alive (unref): this test's wait must.
  const next = () => {
    const keepAlive = setInterval(() => {}, 1000);
    return new Promise<void>((r) => (notify = r)).finally(() => clearInterval(keepAlive));
  };
  const task = dog.wrapGraph(graph, 'app-a').processors[0]!.taskFactory({} as TaskContext) as Busy;
  return { dog, stalls, next, task };
}

test('a batch whose calls hold the loop past the threshold is the application\'s stall, reported when the batch ends', (t) => {
  const { stalls, task } = watched(100);
  task.onNext({ ts: 0, value: 150 });
  task.onNext({ ts: 0, value: 1 });
  t.is(stalls.length, 0, 'a batch\'s onNext calls are one stretch, reported when the batch ends');
  task.onBatchEnd();
  t.is(stalls.length, 1);
  t.is(stalls[0]!.app, 'app-a');
  t.is(stalls[0]!.where, 'src.onNext');
  t.true(stalls[0]!.ms >= 150);
});

test('many short calls in a row that hold the loop are blamed on the application that made them', async (t) => {
  const { dog, stalls, next, task } = watched(200);
  dog.start();
  t.teardown(() => dog.stop());
  const reported = next();
  setTimeout(() => {
    for (let i = 0; i < 40; i++) {
      task.onNext({ ts: 0, value: 10 });
      task.onBatchEnd();
    }
  }, 0);
  await reported;
  t.is(stalls.length, 1);
  t.is(stalls[0]!.app, 'app-a');
  t.regex(stalls[0]!.where, /^many calls/);
});

test('a call that throws ends its batch\'s stretch: the time up to it counts, the next batch starts afresh', (t) => {
  const { stalls, task } = watched(100);
  task.onNext({ ts: 0, value: 120 });
  t.throws(() => task.onNext({ ts: 0, value: 'not a number' as unknown as number }));
  t.is(stalls.length, 1);
  t.true(stalls[0]!.ms >= 120);
  task.onNext({ ts: 0, value: 1 });
  task.onBatchEnd();
  t.is(stalls.length, 1, 'the next batch was short');
});

test('a stall outside every application\'s code is reported unattributed', async (t) => {
  const { dog, stalls, next } = watched(200);
  dog.start();
  t.teardown(() => dog.stop());
  const reported = next();
  setTimeout(() => spin(300), 0);
  await reported;
  t.deepEqual(stalls.map((s) => [s.app, s.where]), [[null, 'event loop']]);
  t.true(stalls[0]!.ms >= 200);
});
