/**
 * Entry point of an application's worker thread on a node. User code (the bundle) runs here, away
 * from the node's own state: an application that throws, loops or leaks takes down its thread,
 * not the node, which reports it and goes on.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { resolveApp } from '../api/app/app-definition.js';
import { Params } from '../api/app/params.js';
import { builtinConnectors } from '../connectors/index.js';
import { loadBundle } from './app-bundle.js';
import type { AppAssignment } from '../wire/assignment.js';
import { createLogger } from '../log/log.js';
import { AppRuntime } from '../runtime/app-runtime.js';
import { AppReplayLog } from '../store/app-replay-log.js';
import { PortTransport, type FromAppThread, type ToAppThread } from './port-transport.js';

export interface AppThreadData {
  bundlePath: string;
  assignment: AppAssignment;
  nodeId: string;
  labels: Record<string, string>;
  logLevel: string;
  /** Replay logs for the sources (log first, then send); absent: off. */
  replay?: { dir: string; quotaBytes: number; policy: 'block' | 'drop-oldest' };
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
    else {
      runtime?.abort();
      // The replay log's LevelDB must be closed before the thread goes, or the next run here
      // cannot open it (LevelDB locks it per process).
      void (runtime?.close() ?? Promise.resolve()).then(() => post({ type: 'closed' }));
    }
  }
});

try {
  const graph = await resolveApp(await loadBundle(data.bundlePath), new Params({ ...data.assignment.params }), data.assignment.app);
  const replay = data.replay
    ? { log: new AppReplayLog(data.replay.dir, data.assignment.submission ?? 0, log), quotaBytes: data.replay.quotaBytes, policy: data.replay.policy }
    : undefined;
  runtime = new AppRuntime({ graph, assignment: data.assignment, nodeId: data.nodeId, nodeLabels: data.labels, transport, log, replay, connectors: builtinConnectors });
  const rt = runtime;
  rt.onFailure((err) => post({ type: 'state', state: 'failed', error: { code: err.code, message: err.message } }));
  await rt.start();
  post({ type: 'state', state: 'running' });
  // Kept up after the end too: the wire counters (fenced zombies, say) stay observable.
  setInterval(() => void postStats(rt), 1000);
  await rt.finished;
  await postStats(rt);
  await rt.close();
  if (!rt.failure) post({ type: 'state', state: 'finished' });
} catch (err) {
  const e = err as { code?: string; message?: string };
  log.error({ err }, 'application failed to start');
  post({ type: 'state', state: 'failed', error: { code: e.code ?? 'TRIB_ERR_APP_INVALID', message: e.message ?? String(err) } });
}

async function postStats(rt: AppRuntime): Promise<void> {
  const stats = statsOf(rt);
  if (data.replay && stats.type === 'stats') stats.replay = await rt.replayStats().catch(() => undefined);
  post(stats);
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
    // Latency percentiles since the previous report, cumulative latency buckets, top keys.
    ...h.metrics.takeProbeReport(),
  }));
  return { type: 'stats', tasks, wire: { ...rt.stats } };
}
