/**
 * "Are all tasks processing?", as the master's REST API shows it (GET /apps/<id>): the measure of
 * recovery. Polling the API here is the measurement itself.
 */
import { adminHeaders } from '../cli/src/launcher.js';

interface TaskView {
  processor: number;
  index: number;
  node: string;
  metrics: { in: number } | null;
}

export interface AppJson {
  id: string;
  state: string;
  epoch: number;
  error?: string;
  pending: unknown[];
  plan: { processors: { id: number; source: string | null }[]; edges: { from: number; to: number; kind: 'data' | 'late' }[] };
  nodes: Record<string, { state: string; online: boolean; error?: string }>;
  tasks: TaskView[];
  recoveries?: number;
}

/** GET /apps/<id>; undefined when the master does not answer (down, restarting) or answers an error. */
export async function fetchApp(httpUrl: string, id: string, timeoutMs = 1000): Promise<AppJson | undefined> {
  try {
    const res = await fetch(new URL(`/apps/${encodeURIComponent(id)}`, httpUrl), { signal: AbortSignal.timeout(timeoutMs), headers: adminHeaders(httpUrl) });
    if (!res.ok) return undefined;
    return (await res.json()) as AppJson;
  } catch {
    return undefined;
  }
}

/** Processors on the data path: sources and everything downstream of them by data edges (not the late-data sink). */
function dataProcessors(plan: AppJson['plan']): Set<number> {
  const out = new Set(plan.processors.filter((p) => p.source !== null).map((p) => p.id));
  for (let grew = true; grew; ) {
    grew = false;
    for (const e of plan.edges) {
      if (e.kind === 'data' && out.has(e.from) && !out.has(e.to)) {
        out.add(e.to);
        grew = true;
      }
    }
  }
  return out;
}

export type Observation =
  | { status: 'processing' }
  | { status: 'finished' }
  | { status: 'failed'; reason: string }
  | { status: 'waiting'; reason: string };

/**
 * Fed one poll of GET /apps/<id> after another. The application is processing when, in the same
 * epoch and placement, with the app running, nothing pending, every hosting node online and
 * reporting `running` for the current epoch (or `finished`), every task on the data path has
 * counted more input (`in`) twice, at polls at least `minSpanMs` apart: counters reach the master
 * with heartbeats (one a second), and after a broker restart a node's heartbeats queued while it
 * was disconnected arrive in one burst, so one increase alone may be old news; two a heartbeat
 * period apart are not. Any poll that breaks those conditions (the master unreachable, a node
 * offline or starting, a new epoch or placement) clears what was seen, and so does reset(),
 * called at each kill and restart: only increases seen after the last disturbance count. What is
 * measured is therefore an upper bound, with about one to two heartbeat periods of reporting delay.
 */
export class ProgressTracker {
  private signature = '';
  private seen = new Map<string, number>();
  /** Per task, when its input first grew since the last disturbance. */
  private firstIncrease = new Map<string, number>();
  private confirmed = new Set<string>();

  constructor(private readonly minSpanMs = 500) {}

  reset(): void {
    this.signature = '';
    this.seen.clear();
    this.firstIncrease.clear();
    this.confirmed.clear();
  }

  observe(app: AppJson | undefined, now = Date.now()): Observation {
    const waiting = (reason: string): Observation => {
      this.reset();
      return { status: 'waiting', reason };
    };
    if (!app) return waiting('master API not answering');
    if (app.state === 'finished') return { status: 'finished' };
    if (app.state !== 'running') return { status: 'failed', reason: `application ${app.state}${app.error ? `: ${app.error}` : ''}` };
    if (app.pending.length > 0) return waiting('tasks waiting to be placed');
    for (const [id, n] of Object.entries(app.nodes)) {
      if (!n.online) return waiting(`${id} offline`);
      if (n.state === 'failed') return { status: 'failed', reason: `${id} failed${n.error ? `: ${n.error}` : ''}` };
      if (n.state !== 'running' && n.state !== 'finished') return waiting(`${id} ${n.state}`);
    }
    const signature = `${app.epoch}|${app.tasks.map((t) => `${t.processor}.${t.index}@${t.node}`).join(',')}`;
    if (signature !== this.signature) {
      this.reset();
      this.signature = signature;
    }
    const flowing = dataProcessors(app.plan);
    let missing = '';
    for (const t of app.tasks) {
      const key = `${t.processor}.${t.index}`;
      if (!t.metrics) return waiting(`no report for task ${key} on ${t.node}`);
      const before = this.seen.get(key);
      if (before !== undefined && t.metrics.in > before) {
        const first = this.firstIncrease.get(key);
        if (first === undefined) this.firstIncrease.set(key, now);
        else if (now - first >= this.minSpanMs) this.confirmed.add(key);
      }
      this.seen.set(key, t.metrics.in);
      // A task on a node whose part has finished has nothing left to process.
      if (flowing.has(t.processor) && app.nodes[t.node]?.state !== 'finished' && !this.confirmed.has(key)) missing ||= `task ${key} on ${t.node} not processing yet`;
    }
    return missing ? { status: 'waiting', reason: missing } : { status: 'processing' };
  }
}
