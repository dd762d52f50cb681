import type { Placement } from '@tributary/shared';
import type { TaskPlacement } from '@tributary/shared';

export interface SchedulableNode {
  readonly id: string;
  readonly kind: 'worker' | 'agent';
  readonly labels: Readonly<Record<string, string>>;
  readonly slots: number;
  readonly online: boolean;
}

export interface SchedulableProcessor {
  readonly id: number;
  readonly parallelism: number;
  readonly placement: Placement;
}

export interface ScheduleResult {
  readonly tasks: TaskPlacement[];
  /** Processors that could not get (all) their tasks placed, and why. */
  readonly pending: { processor: number; reason: string }[];
}

/**
 * Places an application's tasks on nodes. Pure: same inputs, same answer.
 *   edge  — `parallelism` tasks on every online agent whose labels match the selector;
 *   cloud — `parallelism` tasks spread over online workers, least loaded first;
 *   any   — like cloud, or like edge when there is no worker.
 * Tasks already placed (`previous`) keep their node and index, so that adding an agent adds
 * tasks without renumbering the running ones; new tasks get the next free indexes.
 */
export function schedule(
  processors: readonly SchedulableProcessor[],
  nodes: readonly SchedulableNode[],
  previous: readonly TaskPlacement[] = [],
  load: ReadonlyMap<string, number> = new Map(),
): ScheduleResult {
  const used = new Map(load);
  const tasks: TaskPlacement[] = [...previous];
  for (const t of previous) used.set(t.node, (used.get(t.node) ?? 0) + 1);
  const pending: ScheduleResult['pending'] = [];
  const online = nodes.filter((n) => n.online).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const workers = online.filter((n) => n.kind === 'worker');
  const agents = online.filter((n) => n.kind === 'agent');

  for (const p of processors) {
    const mine = previous.filter((t) => t.processor === p.id);
    let nextIndex = mine.reduce((m, t) => Math.max(m, t.index + 1), 0);
    const where = p.placement.where === 'any' ? (workers.length > 0 ? 'cloud' : 'edge') : p.placement.where;
    if (where === 'edge') {
      const matching = agents.filter((a) => matches(a.labels, p.placement.selector));
      // Tasks per agent counted once (not a pass over `mine` per agent: O(agents × tasks) on a big fleet).
      const haveOn = new Map<string, number>();
      for (const t of mine) haveOn.set(t.node, (haveOn.get(t.node) ?? 0) + 1);
      for (const agent of matching) {
        const have = haveOn.get(agent.id) ?? 0;
        for (let k = have; k < p.parallelism; k++) {
          tasks.push({ processor: p.id, index: nextIndex++, node: agent.id });
          used.set(agent.id, (used.get(agent.id) ?? 0) + 1);
        }
      }
      if (mine.length === 0 && matching.length === 0) pending.push({ processor: p.id, reason: `no online agent matches ${describe(p.placement.selector)}` });
    } else {
      for (let k = mine.length; k < p.parallelism; k++) {
        const target = leastLoaded(workers, used);
        if (!target) {
          pending.push({ processor: p.id, reason: workers.length === 0 ? 'no online worker' : 'no free worker slot' });
          break;
        }
        tasks.push({ processor: p.id, index: nextIndex++, node: target.id });
        used.set(target.id, (used.get(target.id) ?? 0) + 1);
      }
    }
  }
  return { tasks, pending };
}

export function matches(labels: Readonly<Record<string, string>>, selector: Readonly<Record<string, string>> | undefined): boolean {
  if (!selector) return true;
  return Object.entries(selector).every(([k, v]) => labels[k] === v);
}

function leastLoaded(workers: readonly SchedulableNode[], used: Map<string, number>): SchedulableNode | undefined {
  let best: SchedulableNode | undefined;
  let bestFree = 0;
  for (const w of workers) {
    const free = w.slots - (used.get(w.id) ?? 0);
    if (free > bestFree) {
      best = w;
      bestFree = free;
    }
  }
  return best;
}

function describe(selector: Readonly<Record<string, string>> | undefined): string {
  const s = Object.entries(selector ?? {}).map(([k, v]) => `${k}=${v}`).join(',');
  return s ? `{${s}}` : '(any agent)';
}
