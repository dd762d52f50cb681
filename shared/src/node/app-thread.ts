/**
 * Entry point of an application's worker thread on a node (isolation `thread`, the default of
 * cloud workers). User code (the bundle) runs here, away from the node's own state: an
 * application that throws, loops or leaks takes down its thread, not the node, which reports it
 * and goes on. The application itself is an AppSession, as in the inline host.
 *
 * A standby thread (hot standby, issue 14; `standby` in its data) evaluates the bundle and builds
 * the graph, then runs nothing, holds no task and opens no replay log until an assignment with
 * tasks arrives (ThreadApp.update): the run then starts here at once with that graph.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';
import type { Graph } from '../api/dag/graph.js';
import type { AppAssignment } from '../wire/assignment.js';
import { createLogger } from '../log/log.js';
import { AppSession, prepareStandby, type AppSessionOptions } from './app-session.js';
import { sameSubmission } from './app-host.js';
import { PortTransport, type FromAppThread, type ToAppThread } from './port-transport.js';

export interface AppThreadData extends Omit<AppSessionOptions, 'transport' | 'log' | 'wrapGraph' | 'graph'> {
  logLevel: string;
  /** Hot standby: prepare the application, run nothing until an assignment comes. */
  standby?: boolean;
}

const port = parentPort!;
const data = workerData as AppThreadData;
const log = createLogger({ level: data.logLevel, name: `app:${data.assignment.app}` });
const post = (m: FromAppThread) => port.postMessage(m);
const transport = new PortTransport(port, data.nodeId);
/**
 * Only the current session speaks: a stopped one's last stats (a report in flight when it was
 * stopped) would otherwise reach the node after the new epoch's update, and its wire counters
 * (a gap, say) would be reported as the new epoch's and trigger another recovery.
 */
const newSession = (assignment: AppAssignment, graph?: Graph): AppSession => {
  const s: AppSession = new AppSession({ ...data, assignment, transport, log, ...(graph ? { graph } : {}) }, {
    state: (state, error) => {
      if (s === session) post({ type: 'state', state, ...(error ? { error } : {}) });
    },
    stats: (tasks, wire, replay) => {
      if (s === session) post({ type: 'stats', tasks, wire, ...(replay ? { replay } : {}) });
    },
  });
  return s;
};
let assignment = data.assignment;
/** Null while the thread is a standby (no run yet). */
let session: AppSession | null = null;
/** A standby's prepared graph, for its first run only (a later run evaluates the bundle afresh). */
let warm: Graph | null = null;

/** A standby's preparation (prepareStandby): ready with its graph, or failed. */
async function prepare(): Promise<void> {
  const r = await prepareStandby(data.bundlePath, assignment, log);
  if ('error' in r) return post({ type: 'state', state: 'failed', error: r.error });
  warm = r.graph;
  // Since the thread started: its start-up is part of what a standby saves a takeover.
  post({ type: 'standby', ms: Math.round(performance.now()) });
}

/** Updates and stops, one at a time and in order (after a standby's preparation). */
let changing: Promise<void> = data.standby ? prepare() : Promise.resolve();

/**
 * A new assignment (ThreadApp.update): in place when only remote senders were added; a new epoch
 * of the same submission (a recovery) restarts the run here, in this thread, with the code it has
 * loaded: no thread to end and no new one to start (that took seconds on a loaded machine, most of
 * a worker's fail-over). A standby takes its first assignment of the same submission the same way.
 * Anything else (another bundle or submission): the node restarts the thread.
 */
async function update(next: AppAssignment): Promise<void> {
  if (session?.update(next)) {
    assignment = next;
    return post({ type: 'updated', ok: true });
  }
  if (!sameSubmission(assignment, next) || (!session && !warm)) return post({ type: 'updated', ok: false });
  if (session) {
    await session.stop();
    log.info({ app: next.app, epoch: next.epoch, from: assignment.epoch }, 'new epoch: restarting the application in its thread');
  } else {
    log.info({ app: next.app, epoch: next.epoch }, 'standby: starting the application in its warm thread');
  }
  assignment = next;
  session = newSession(next, warm ?? undefined);
  warm = null;
  void session.run();
  post({ type: 'updated', ok: true });
}

port.on('message', (m: ToAppThread) => {
  if (m.type === 'message') transport.deliver(m.topic, m.payload);
  else if (m.type === 'update') changing = changing.then(() => update(m.assignment as AppAssignment)).catch((err: Error) => {
    log.error({ err }, 'applying an assignment failed');
    post({ type: 'updated', ok: false });
  });
  else if (m.type === 'stop') {
    if (m.drain) session?.stopSources();
    else changing = changing.then(() => session?.stop()).then(() => post({ type: 'closed' }));
  }
});

if (!data.standby) {
  session = newSession(assignment);
  await session.run();
}
