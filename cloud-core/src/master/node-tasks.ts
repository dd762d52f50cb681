import type { TaskPlacement } from '@tributary/shared';
import type { PlanJson } from './master-store.js';

/** What one node needs to know of an application's placement (AppManager.publishDesired). */
export interface NodeTasks {
  /** Its own tasks, and every task of a processor linked by an edge to one of its processors. */
  readonly tasks: TaskPlacement[];
  /**
   * Processors listed with only this node's tasks: their task count in the whole application
   * (each listed task then carries its `position`), so a task sees the same parallelism and
   * position as with the full list. Absent when every listed processor is complete.
   */
  readonly taskCounts?: Record<string, number>;
}

/**
 * An application's placement indexed by node and processor, built once per placement (AppManager
 * caches it by the `tasks` array it was built from), so that each node's desired state costs
 * O(its own tasks + the tasks of its neighbours), not O(every task): the control plane of a
 * 10,000-agent fleet with one edge task per agent was O(nodes × tasks) before.
 */
export class PlacementIndex {
  private readonly byNode = new Map<string, TaskPlacement[]>();
  /** Per processor, its tasks sorted by index (position = place in this list). */
  private readonly byProcessor = new Map<number, TaskPlacement[]>();
  private readonly positions = new Map<TaskPlacement, number>();
  /** Per processor, the processors linked to it by an edge (either direction). */
  private readonly neighbours = new Map<number, Set<number>>();

  constructor(plan: Pick<PlanJson, 'edges'>, tasks: readonly TaskPlacement[]) {
    for (const t of tasks) {
      (this.byNode.get(t.node) ?? this.byNode.set(t.node, []).get(t.node)!).push(t);
      (this.byProcessor.get(t.processor) ?? this.byProcessor.set(t.processor, []).get(t.processor)!).push(t);
    }
    for (const list of this.byProcessor.values()) {
      list.sort((a, b) => a.index - b.index);
      list.forEach((t, i) => this.positions.set(t, i));
    }
    for (const e of plan.edges) {
      (this.neighbours.get(e.from) ?? this.neighbours.set(e.from, new Set()).get(e.from)!).add(e.to);
      (this.neighbours.get(e.to) ?? this.neighbours.set(e.to, new Set()).get(e.to)!).add(e.from);
    }
  }

  /** Whether `node` hosts a task of the application. */
  hosts(node: string): boolean {
    return this.byNode.has(node);
  }

  /** The part of the placement `node` needs (empty when it hosts nothing). */
  forNode(node: string): NodeTasks {
    const own = this.byNode.get(node) ?? [];
    const hosted = new Set(own.map((t) => t.processor));
    const full = new Set<number>();
    for (const p of hosted) for (const n of this.neighbours.get(p) ?? []) full.add(n);
    const tasks: TaskPlacement[] = [];
    let taskCounts: Record<string, number> | undefined;
    for (const p of [...new Set([...hosted, ...full])].sort((a, b) => a - b)) {
      const all = this.byProcessor.get(p) ?? [];
      const mine = own.filter((t) => t.processor === p).sort((a, b) => a.index - b.index);
      if (full.has(p) || mine.length === all.length) {
        tasks.push(...all);
      } else {
        (taskCounts ??= {})[String(p)] = all.length;
        for (const t of mine) tasks.push({ ...t, position: this.positions.get(t)! });
      }
    }
    return taskCounts ? { tasks, taskCounts } : { tasks };
  }
}
