/**
 * Entry point of an application's worker thread on a node. User code (the bundle) runs here, away
 * from the node's own state: an application that throws, loops or leaks takes down its thread,
 * not the node, which reports it and goes on.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { pathToFileURL } from 'node:url';
import { resolveApp } from '../app/app-module.js';
import { Params } from '../app/params.js';
import type { AppAssignment } from '../cluster/assignment.js';
import { createLogger } from '../log.js';
import { AppRuntime } from '../runtime/app-runtime.js';
import { PortTransport, type FromAppThread, type ToAppThread } from './port-transport.js';

export interface AppThreadData {
  bundlePath: string;
  assignment: AppAssignment;
  nodeId: string;
  labels: Record<string, string>;
  logLevel: string;
}

const port = parentPort!;
const data = workerData as AppThreadData;
const log = createLogger({ level: data.logLevel, name: `app:${data.assignment.app}` });
const post = (m: FromAppThread) => port.postMessage(m);
const transport = new PortTransport(port, data.nodeId);
let runtime: AppRuntime | null = null;

port.on('message', (m: ToAppThread) => {
  if (m.type === 'message') transport.deliver(m.topic, m.payload);
  else if (m.type === 'update') post({ type: 'updated', ok: runtime?.update(m.assignment as AppAssignment) ?? false });
  else if (m.type === 'stop') {
    if (m.drain) runtime?.stopSources();
    else runtime?.abort();
  }
});

try {
  const mod = (await import(pathToFileURL(data.bundlePath).href)) as { default?: unknown };
  const graph = await resolveApp(mod.default, new Params({ ...data.assignment.params }), data.assignment.app);
  runtime = new AppRuntime({ graph, assignment: data.assignment, nodeId: data.nodeId, nodeLabels: data.labels, transport, log });
  const rt = runtime;
  rt.onFailure((err) => post({ type: 'state', state: 'failed', error: { code: err.code, message: err.message } }));
  await rt.start();
  post({ type: 'state', state: 'running' });
  const stats = setInterval(() => post(statsOf(rt)), 1000);
  await rt.finished;
  clearInterval(stats);
  post(statsOf(rt));
  if (!rt.failure) post({ type: 'state', state: 'finished' });
} catch (err) {
  const e = err as { code?: string; message?: string };
  log.error({ err }, 'application failed to start');
  post({ type: 'state', state: 'failed', error: { code: e.code ?? 'TRIB_ERR_APP_INVALID', message: e.message ?? String(err) } });
}

function statsOf(rt: AppRuntime): FromAppThread {
  const tasks = [...rt.hosts.values()].map((h) => ({
    processor: h.id.processor,
    index: rt.taskIndexOf(h),
    in: h.metrics.in,
    out: h.metrics.out,
    late: h.metrics.late,
    rejected: h.metrics.rejected,
    queued: h.queued(),
    maxQueued: h.metrics.maxQueued,
    inputClock: h.inputClock,
  }));
  return { type: 'stats', tasks, wire: { ...rt.stats } };
}
