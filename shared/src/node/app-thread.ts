/**
 * Entry point of an application's worker thread on a node (isolation `thread`, the default of
 * cloud workers). User code (the bundle) runs here, away from the node's own state: an
 * application that throws, loops or leaks takes down its thread, not the node, which reports it
 * and goes on. The application itself is an AppSession, as in the inline host.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { AppAssignment } from '../wire/assignment.js';
import { createLogger } from '../log/log.js';
import { AppSession, type AppSessionOptions } from './app-session.js';
import { PortTransport, type FromAppThread, type ToAppThread } from './port-transport.js';

export interface AppThreadData extends Omit<AppSessionOptions, 'transport' | 'log' | 'wrapGraph'> {
  logLevel: string;
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
const newSession = (assignment: AppAssignment): AppSession => {
  const s: AppSession = new AppSession({ ...data, assignment, transport, log }, {
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
let session = newSession(assignment);
/** Updates and stops, one at a time and in order. */
let changing: Promise<void> = Promise.resolve();

/**
 * A new assignment (ThreadApp.update): in place when only remote senders were added; a new epoch
 * of the same submission (a recovery) restarts the run here, in this thread, with the code it has
 * loaded: no thread to end and no new one to start (that took seconds on a loaded machine, most of
 * a worker's fail-over). Anything else (another bundle or submission): the node restarts the thread.
 */
async function update(next: AppAssignment): Promise<void> {
  if (session.update(next)) {
    assignment = next;
    return post({ type: 'updated', ok: true });
  }
  if (!sameSubmission(assignment, next)) return post({ type: 'updated', ok: false });
  await session.stop();
  log.info({ app: next.app, epoch: next.epoch, from: assignment.epoch }, 'new epoch: restarting the application in its thread');
  assignment = next;
  session = newSession(next);
  void session.run();
  post({ type: 'updated', ok: true });
}

function sameSubmission(a: AppAssignment, b: AppAssignment): boolean {
  return a.app === b.app && a.bundle.sha256 === b.bundle.sha256 && a.submission === b.submission && JSON.stringify(a.params) === JSON.stringify(b.params);
}

port.on('message', (m: ToAppThread) => {
  if (m.type === 'message') transport.deliver(m.topic, m.payload);
  else if (m.type === 'update') changing = changing.then(() => update(m.assignment as AppAssignment)).catch((err: Error) => {
    log.error({ err }, 'applying an assignment failed');
    post({ type: 'updated', ok: false });
  });
  else if (m.type === 'stop') {
    if (m.drain) session.stopSources();
    else changing = changing.then(() => session.stop()).then(() => post({ type: 'closed' }));
  }
});

await session.run();
