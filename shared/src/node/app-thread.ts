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
const session = new AppSession({ ...data, transport, log }, {
  state: (state, error) => post({ type: 'state', state, ...(error ? { error } : {}) }),
  stats: (tasks, wire, replay) => post({ type: 'stats', tasks, wire, ...(replay ? { replay } : {}) }),
});

port.on('message', (m: ToAppThread) => {
  if (m.type === 'message') transport.deliver(m.topic, m.payload);
  else if (m.type === 'update') post({ type: 'updated', ok: session.update(m.assignment as AppAssignment) });
  else if (m.type === 'stop') {
    if (m.drain) session.stopSources();
    else void session.stop().then(() => post({ type: 'closed' }));
  }
});

await session.run();
