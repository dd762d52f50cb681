import type { Logger } from '../log/log.js';
import type { NodeEventLoopReport } from '../wire/assignment.js';
import type { AppHostOptions } from './app-host.js';
import { EventLoopWatchdog } from './event-loop-watchdog.js';
import { InlineApp } from './inline-app.js';
import { listenUnattributed } from './inline-guard.js';

/**
 * What a node needs to host applications on its own main thread (isolation `inline`), created by
 * NodeAgent: the inline applications it runs, the event-loop watchdog shared by them, and the
 * process-wide guard that keeps an application's uncaught exception from ending the node. It
 * counts what it cannot blame on an application, for the heartbeat (`eventLoop`).
 */
export class InlineHosting {
  private readonly apps = new Map<string, InlineApp>();
  private readonly watchdog: EventLoopWatchdog | null;
  private stopListening: (() => void) | null = null;
  private unattributedErrors = 0;
  private unattributedStalls = 0;

  constructor(watchdogMs: number, private readonly log: Logger) {
    this.watchdog = watchdogMs > 0 ? new EventLoopWatchdog(watchdogMs, (app, ms, where) => this.onStall(app, ms, where)) : null;
  }

  /** From the node's start to its stop (see inline-guard.ts for why not only while apps run). */
  start(): void {
    this.watchdog?.start();
    this.stopListening ??= listenUnattributed((err, origin, app) => {
      this.unattributedErrors++;
      this.log.error({ err, origin, ...(app ? { endedApp: app } : {}), count: this.unattributedErrors },
        app ? `${origin} from application ${app}, which is no longer running: the node goes on` : `${origin} not attributable to an application: the node goes on`);
    });
  }

  stop(): void {
    this.watchdog?.stop();
    this.stopListening?.();
    this.stopListening = null;
  }

  /** A new inline application (not started); forgotten once it has stopped. */
  host(options: AppHostOptions): InlineApp {
    const app = new InlineApp(options, this.watchdog);
    this.apps.set(app.app, app);
    void app.exited.then(() => {
      if (this.apps.get(app.app) === app) this.apps.delete(app.app);
    });
    return app;
  }

  report(): NodeEventLoopReport {
    return { unattributedStalls: this.unattributedStalls, unattributedErrors: this.unattributedErrors };
  }

  private onStall(app: string | null, ms: number, where: string): void {
    const host = app === null ? undefined : this.apps.get(app);
    if (host) {
      host.stalled(ms);
      this.log.warn({ app, ms, where, thresholdMs: this.watchdog?.thresholdMs, stalls: host.status.stalls?.count },
        `application ${app} blocked the event loop for ${ms} ms`);
    } else {
      this.unattributedStalls++;
      this.log.warn({ ms, where, thresholdMs: this.watchdog?.thresholdMs, count: this.unattributedStalls },
        `event loop blocked for ${ms} ms, not inside an application's task call`);
    }
  }
}
