import { performance } from 'node:perf_hooks';
import { Graph } from '../api/dag/graph.js';
import type { Source, SourceSpec } from '../api/source/source.js';
import type { Task, TaskFactory } from '../api/task/task.js';

/** A stall: `app` blocked the event loop `ms` long in `where`; app null: no application's call. */
export type StallListener = (app: string | null, ms: number, where: string) => void;

/** The task and source methods timed: every way the runtime calls into application code. */
const TASK_METHODS = ['onStart', 'onNext', 'onClock', 'onBatchEnd', 'onStop', 'snapshot', 'restore'] as const;
const SOURCE_METHODS = ['open', 'read', 'close'] as const;

/**
 * Notices applications that block the node's event loop (inline hosting: they share it with the
 * node and with each other; a thread blocks only itself).
 *
 * Two parts, because a single-threaded watchdog cannot look at the stack while it is blocked:
 *   - attribution: the application's task and source calls are timed (wrapGraph; two clock reads
 *     a call, and a batch's onNext calls as one stretch up to its onBatchEnd); one that ran
 *     synchronously for `thresholdMs` or more is a stall of that application, reported when it
 *     returns. Asynchronous work is not counted, only the synchronous stretch that
 *     held the loop;
 *   - detection: a timer checks every tick how late it fired. A lag of `thresholdMs` or more that
 *     no single call explains goes to the application whose calls took most of it (at least half:
 *     many short calls in a row, a batch loop that did not yield), else it is unattributed (the
 *     node's own code, an application's own timer callback, or the process not getting the CPU).
 *     A call that never returns cannot be reported by anything
 *     on this thread: that is the price of inline hosting (isolation `thread` pays a V8 isolate
 *     per application instead).
 */
export class EventLoopWatchdog {
  private timer: NodeJS.Timeout | null = null;
  private lastTick = 0;
  /** When the last attributed stall ended: a lag it explains is not reported twice. */
  private lastClaimed = -Infinity;
  /** Per application: ms spent in its timed calls since the last tick. */
  private readonly busy = new Map<string, { ms: number }>();
  private readonly tickMs: number;

  constructor(readonly thresholdMs: number, private readonly onStall: StallListener) {
    this.tickMs = Math.max(10, Math.min(250, Math.floor(thresholdMs / 4)));
  }

  start(): void {
    if (this.timer || !(this.thresholdMs > 0)) return;
    this.lastTick = performance.now();
    this.timer = setInterval(() => this.check(), this.tickMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** The same graph, with every task and source call of `app` timed. */
  wrapGraph(graph: Graph, app: string): Graph {
    if (!(this.thresholdMs > 0)) return graph;
    const processors = graph.processors.map((p) => ({
      ...p,
      taskFactory: this.wrapFactory(p.taskFactory, app, p.name),
      ...(p.source ? { source: this.wrapSourceSpec(p.source, app, p.name) } : {}),
    }));
    const wrapped = new Graph(graph.name, processors, graph.edges);
    wrapped.idleTimeoutMs = graph.idleTimeoutMs;
    return wrapped;
  }

  private check(): void {
    const now = performance.now();
    const lag = now - this.lastTick - this.tickMs;
    const since = this.lastTick;
    this.lastTick = now;
    let top: string | null = null;
    let topMs = 0;
    for (const [app, b] of this.busy) {
      if (b.ms > topMs) [top, topMs] = [app, b.ms];
      b.ms = 0;
    }
    if (lag < this.thresholdMs || this.lastClaimed >= since) return;
    if (top !== null && topMs >= lag / 2) this.onStall(top, Math.round(lag), `many calls (${Math.round(topMs)} ms of its code)`);
    else this.onStall(null, Math.round(lag), 'event loop');
  }

  private wrapFactory(factory: TaskFactory, app: string, processor: string): TaskFactory {
    return (ctx) => {
      const task = factory(ctx);
      this.timeMethods(task as unknown as Record<string, unknown>, TASK_METHODS, app, processor);
      return task as Task;
    };
  }

  private wrapSourceSpec(spec: SourceSpec, app: string, processor: string): SourceSpec {
    // Delegates everything else (name, clock policy, the connector of a built-in source) to spec.
    return Object.create(spec, {
      create: {
        value: (): Source => {
          const source = spec.create();
          this.timeMethods(source as unknown as Record<string, unknown>, SOURCE_METHODS, app, processor);
          return source;
        },
      },
    }) as SourceSpec;
  }

  private timeMethods(target: Record<string, unknown>, methods: readonly string[], app: string, processor: string): void {
    let busy = this.busy.get(app);
    if (!busy) this.busy.set(app, (busy = { ms: 0 }));
    const account = busy;
    // onNext runs once per record: timing each call cost two clock reads and an argument array
    // per record (3 % of an agent's CPU at full speed). A batch's onNext calls are one stretch
    // instead, opened by its first call and closed by its onBatchEnd (which every batch ends
    // with, including the last) or by a call that throws.
    let stretchStart = -1;
    const nextWhere = `${processor}.onNext`;
    const closeStretch = () => {
      if (stretchStart < 0) return;
      const ms = performance.now() - stretchStart;
      stretchStart = -1;
      account.ms += ms;
      this.claim(app, ms, nextWhere);
    };
    for (const m of methods) {
      const fn = target[m];
      if (typeof fn !== 'function') continue;
      if (m === 'onNext') {
        target[m] = (msg: unknown) => {
          if (stretchStart < 0) stretchStart = performance.now();
          try {
            return (fn as (msg: unknown) => unknown).call(target, msg);
          } catch (err) {
            closeStretch();
            throw err;
          }
        };
        continue;
      }
      const where = `${processor}.${m}`;
      target[m] = (...args: unknown[]) => {
        const inStretch = stretchStart >= 0;
        const started = performance.now();
        try {
          return (fn as (...a: unknown[]) => unknown).apply(target, args);
        } finally {
          const ms = performance.now() - started;
          // Within a stretch (onClock between records), the stretch counts this time.
          if (!inStretch) account.ms += ms;
          this.claim(app, ms, where);
          if (m === 'onBatchEnd') closeStretch();
        }
      };
    }
  }

  /** A call (or a batch's stretch of onNext calls) that held the loop `thresholdMs` or more. */
  private claim(app: string, ms: number, where: string): void {
    if (ms < this.thresholdMs) return;
    this.lastClaimed = performance.now();
    this.onStall(app, Math.round(ms), where);
  }
}
