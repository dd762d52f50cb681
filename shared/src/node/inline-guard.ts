import { AsyncLocalStorage } from 'node:async_hooks';

/** An inline application as the guard knows it: a name, and what to do when its code crashed. */
export interface GuardedApp {
  readonly app: string;
  /** An exception its code threw outside any task's try (a timer callback, say). */
  crashed(err: unknown, origin: 'uncaughtException' | 'unhandledRejection'): void;
}

/** Told about an exception no running application could be blamed for (`app`: one that ended). */
export type UnattributedListener = (err: unknown, origin: 'uncaughtException' | 'unhandledRejection', app?: string) => void;

/**
 * Keeps a node alive when the application code it hosts inline throws where no task catches it.
 *
 * Task calls are wrapped by the runtime: their errors fail the application (AppRuntime.onFailure).
 * What escapes is code the application scheduled itself: a timer or event callback in a source,
 * a promise nobody awaits. Node's default is to exit the process, taking every other application
 * down with it. Instead, every entry into an inline application (its start, each message
 * delivered to it) runs in an AsyncLocalStorage context naming it; the context follows timers,
 * promises and callbacks the application creates. The process-wide handlers read it:
 *   - owned by a running application: that application is failed (stopped, reported), alone;
 *   - otherwise (the node's own code, or an application that has ended): logged with the error
 *     and counted (heartbeat `eventLoop.unattributedErrors`), and the node goes on.
 * The handlers are installed while at least one inline-hosting node runs in the process (from
 * its start to its stop, not only while apps run: a stopped application's stray timer must not
 * crash the node either), and removed after, restoring Node's default.
 */
const context = new AsyncLocalStorage<GuardedApp>();
const running = new Set<GuardedApp>();
const listeners = new Set<UnattributedListener>();

function onError(err: unknown, origin: 'uncaughtException' | 'unhandledRejection'): void {
  const owner = context.getStore();
  if (owner && running.has(owner)) {
    owner.crashed(err, origin);
    return;
  }
  for (const l of listeners) l(err, origin, owner?.app);
}

const onUncaught = (err: unknown) => onError(err, 'uncaughtException');
const onRejection = (reason: unknown) => onError(reason, 'unhandledRejection');

/** A node that hosts applications inline starts listening; returns its way out. */
export function listenUnattributed(listener: UnattributedListener): () => void {
  if (listeners.size === 0) {
    process.on('uncaughtException', onUncaught);
    process.on('unhandledRejection', onRejection);
  }
  listeners.add(listener);
  return () => {
    listeners.delete(listener);
    if (listeners.size === 0) {
      process.off('uncaughtException', onUncaught);
      process.off('unhandledRejection', onRejection);
    }
  };
}

/** Marks an application as running (its crashes are its own) until the returned function is called. */
export function guardApp(app: GuardedApp): () => void {
  running.add(app);
  return () => running.delete(app);
}

/** Runs `fn` as `app`: whatever it schedules stays attributed to the application. */
export function runAs<T>(app: GuardedApp, fn: () => T): T {
  return context.run(app, fn);
}
