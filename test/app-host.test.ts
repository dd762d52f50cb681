/**
 * Conformance of the two ways a node hosts an application (AppHost): ThreadApp (a worker thread)
 * and InlineApp (the node's main thread). The same bundle, assignment and expectations for both;
 * the node side is played by the test (publish callback, onChange), the rest is real (bundle
 * loader, AppRuntime, file sink). Uncaught exceptions are tested with real processes
 * (test/inline-apps.test.ts): ava's own handlers would see them in here.
 */
import test, { type ExecutionContext } from 'ava';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { resolveApp } from '../shared/src/api/app/app-definition.js';
import { Params } from '../shared/src/api/app/params.js';
import { createLogger } from '../shared/src/log/log.js';
import { bundleHeader, loadBundle } from '../shared/src/node/app-bundle.js';
import type { AppHost, AppHostOptions, Isolation } from '../shared/src/node/app-host.js';
import { EventLoopWatchdog } from '../shared/src/node/event-loop-watchdog.js';
import { InlineApp } from '../shared/src/node/inline-app.js';
import { ThreadApp } from '../shared/src/node/thread-app.js';
import type { AppAssignment } from '../shared/src/wire/assignment.js';
import { tempDir } from './helpers/tmp.js';

const log = createLogger({ level: 'silent', name: 'app-host-test' });

/** A CommonJS bundle as `tributary bundle` writes it: 20 records doubled into a file, or a throw at `failAt`. */
function bundle(output: string, failAt?: number): string {
  return `${bundleHeader()}
const t = require('tributary');
const records = Array.from({ length: 20 }, (_, i) => ({ ts: 1000 + i, value: i }));
exports.default = t.pipeline('doubler')
  .source(t.collectionSource(records))
  .map((v) => { if (v === ${failAt ?? -1}) throw new Error('map exploded at ' + v); return v * 2; })
  .sink(t.jsonLinesSink(${JSON.stringify(output)}));
`;
}

/** Every task of the bundle's graph on node n1. */
async function assignmentFor(path: string): Promise<AppAssignment> {
  const graph = await resolveApp(await loadBundle(path), new Params({}));
  const tasks = graph.processors.flatMap((p) => Array.from({ length: p.parallelism }, (_, index) => ({ processor: p.id, index, node: 'n1' })));
  return { app: 'doubler', epoch: 1, version: 1, bundle: { sha256: '0'.repeat(64), url: 'file:' + path }, params: {}, tasks };
}

async function host(t: ExecutionContext, isolation: Isolation, failAt?: number, standby?: { code?: string }): Promise<{ app: AppHost; output: string; settled: Promise<void>; full: AppAssignment }> {
  const dir = await tempDir();
  t.teardown(dir.cleanup);
  const output = join(dir.path, 'out.jsonl');
  const bundlePath = join(dir.path, 'doubler.cjs');
  await writeFile(bundlePath, standby?.code ?? bundle(output, failAt));
  const full = standby?.code ? { app: 'doubler', epoch: 1, version: 1, bundle: { sha256: '0'.repeat(64), url: 'file:' + bundlePath }, params: {}, tasks: [] } : await assignmentFor(bundlePath);
  let settle!: () => void;
  const settled = new Promise<void>((r) => (settle = r));
  const options: AppHostOptions = {
    // A standby is started as NodeAgent does: the application, no task of it.
    assignment: standby ? { ...full, version: 0, tasks: [] } : full, bundlePath, nodeId: 'n1', labels: {}, logLevel: 'silent',
    ...(standby ? { standby: true } : {}),
    publish: () => {}, log,
    onChange: () => {
      if (app.status.state === 'finished' || app.status.state === 'failed') settle();
    },
  };
  const app: AppHost = isolation === 'inline' ? new InlineApp(options, new EventLoopWatchdog(1000, () => {})) : new ThreadApp(options);
  return { app, output, settled, full };
}

for (const isolation of ['thread', 'inline'] as const) {
  test(`${isolation}: runs the application to the end and reports it finished`, async (t) => {
    const { app, output, settled } = await host(t, isolation);
    app.start();
    await settled;
    t.is(app.status.state, 'finished');
    const rows = (await readFile(output, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as number);
    t.deepEqual(rows, Array.from({ length: 20 }, (_, i) => i * 2));
    await app.stop();
    await app.exited;
    t.is(app.status.state, 'finished', 'stopping a finished application leaves its state');
  });

  test(`${isolation}: a task that throws fails the application with its code`, async (t) => {
    const { app, settled } = await host(t, isolation, 5);
    app.start();
    await settled;
    t.is(app.status.state, 'failed');
    t.regex(app.status.error ?? '', /^\[TRIB_ERR_TASK_FAILED\] .*map exploded at 5/);
    await app.stop();
    t.is(app.status.state, 'failed', 'a failed application stays failed');
  });

  test(`${isolation}: a standby runs nothing until an assignment of its submission comes, then runs it with the graph it built`, async (t) => {
    const { app, output, settled, full } = await host(t, isolation, undefined, {});
    app.start();
    // Answered once the standby is prepared (both hosts take updates after their preparation).
    t.false(await app.update({ ...full, submission: 99 }), 'another submission is not this standby\'s to run');
    t.is(app.status.state, 'starting');
    await t.throwsAsync(readFile(output, 'utf8'), { code: 'ENOENT' }, 'nothing ran: no sink opened');
    t.true(await app.update(full));
    await settled;
    t.is(app.status.state, 'finished');
    t.deepEqual((await readFile(output, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as number), Array.from({ length: 20 }, (_, i) => i * 2));
    await app.stop();
  });

  test(`${isolation}: a standby whose bundle throws while loading is failed and takes no assignment`, async (t) => {
    const { app, settled, full } = await host(t, isolation, undefined, { code: `${bundleHeader()}\nthrow new Error('no config at load');\n` });
    app.start();
    await settled;
    t.is(app.status.state, 'failed');
    t.regex(app.status.error ?? '', /no config at load/);
    t.false(await app.update(full), 'the node starts the application cold instead (and sees it fail there)');
    await app.stop();
  });
}

test('thread: an application that outgrows its heap cap (heapMb) fails alone, its thread ended', async (t) => {
  const dir = await tempDir();
  t.teardown(dir.cleanup);
  const bundlePath = join(dir.path, 'hog.cjs');
  // Every record keeps 8 MB alive: 20 of them are far beyond a 32 MB heap.
  await writeFile(bundlePath, `${bundleHeader()}
const t = require('tributary');
const kept = [];
const records = Array.from({ length: 20 }, (_, i) => ({ ts: 1000 + i, value: i }));
exports.default = t.pipeline('hog')
  .source(t.collectionSource(records))
  .map((v) => { kept.push(new Array(1e6).fill(v + 0.5)); return v; })
  .sink(t.jsonLinesSink(${JSON.stringify(join(dir.path, 'out.jsonl'))}));
`);
  let settle!: () => void;
  const settled = new Promise<void>((r) => (settle = r));
  const app = new ThreadApp({
    assignment: { ...(await assignmentFor(bundlePath)), app: 'hog' }, bundlePath, nodeId: 'n1', labels: {}, logLevel: 'silent', heapMb: 32,
    publish: () => {}, log,
    onChange: () => {
      if (app.status.state === 'failed' || app.status.state === 'finished') settle();
    },
  });
  app.start();
  await settled;
  t.is(app.status.state, 'failed');
  t.regex(app.status.error ?? '', /memory limit/i);
  await app.exited;
  await app.stop();
});
