import type { Graph } from '../api/dag/graph.js';
import type { AppAssignment, TaskPlacement } from '../wire/assignment.js';
import { tasksOf } from './topology.js';

/** A channel to add in place: from a new remote `sender` into the local task `receiver`. */
export interface AddedInbound {
  readonly receiver: TaskPlacement;
  readonly sender: TaskPlacement;
}

/**
 * What node `me` must add to take assignment `next` in place of `current` (AppRuntime.update):
 * the channels from new remote senders into its receivers (an agent joined). null when the change
 * needs a restart of this node's part: another epoch, a task removed, a task added here, or a new
 * receiver of a processor that sends from here (that would need new routes). Pure.
 */
export function inPlaceAdditions(graph: Graph, current: AppAssignment, next: AppAssignment, me: string): AddedInbound[] | null {
  if (next.epoch !== current.epoch) return null;
  const key = (t: TaskPlacement) => `${t.processor}.${t.index}@${t.node}`;
  const before = new Set(current.tasks.map(key));
  const after = new Set(next.tasks.map(key));
  const removed = current.tasks.some((t) => !after.has(key(t)));
  const added = next.tasks.filter((t) => !before.has(key(t)));
  if (removed || added.some((t) => t.node === me)) return null;
  const receiversOfMine = new Set(graph.edges.filter((e) => tasksOf(current.tasks, e.from).some((t) => t.node === me)).map((e) => e.to));
  if (added.some((t) => receiversOfMine.has(t.processor))) return null;
  const out: AddedInbound[] = [];
  for (const e of graph.edges) {
    for (const receiver of tasksOf(next.tasks, e.to).filter((t) => t.node === me)) {
      for (const sender of added.filter((t) => t.processor === e.from)) out.push({ receiver, sender });
    }
  }
  return out;
}
