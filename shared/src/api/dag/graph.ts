import { GraphError } from '../errors.js';
import type { PartitionerSpec } from '../partitioner/partitioner.js';
import type { SinkSpec } from '../sink/sink.js';
import type { SourceSpec } from '../source/source.js';
import type { TaskFactory } from '../task/task.js';
import { ANYWHERE, type Placement } from './placement.js';

/**
 * One vertex of the physical DAG: `parallelism` tasks built by `taskFactory`. A source processor
 * also has a `source`; the runtime reads it and feeds each record to the task.
 */
export interface ProcessorSpec {
  readonly id: number;
  readonly name: string;
  readonly parallelism: number;
  readonly placement: Placement;
  readonly taskFactory: TaskFactory;
  readonly source?: SourceSpec;
  readonly config: Readonly<Record<string, unknown>>;
  /** The operators fused into this processor, in order (DSL plans); one entry otherwise. */
  readonly chain: readonly string[];
  /** True for the processor that receives late data. */
  readonly isLateSink?: boolean;
  /** The sinks its tasks write to (known to the planner), e.g. for declaredAppTopics(). */
  readonly sinks?: readonly SinkSpec[];
}

/** `data` edges carry ctx.output(); `late` edges carry ctx.late() to the late-data sink. */
export interface EdgeSpec {
  readonly from: number;
  readonly to: number;
  readonly partitioner: PartitionerSpec;
  readonly kind: 'data' | 'late';
}

/**
 * An immutable, validated DAG. Processor ids are their indexes; edges go from lower to higher
 * topological rank (validated: no cycles, every non-source has an input, sources have none).
 */
export class Graph {
  readonly processors: readonly ProcessorSpec[];
  readonly edges: readonly EdgeSpec[];
  /**
   * Idle-source timeout, ms of wall time (0 = none): an input from another node that carries
   * nothing for this long stops holding the application's clock (see ChannelTaskRunner).
   */
  idleTimeoutMs = 0;

  constructor(readonly name: string, processors: readonly ProcessorSpec[], edges: readonly EdgeSpec[]) {
    this.processors = Object.freeze([...processors]);
    this.edges = Object.freeze([...edges]);
    validate(this);
  }

  inputs(id: number): EdgeSpec[] {
    return this.edges.filter((e) => e.to === id);
  }

  outputs(id: number): EdgeSpec[] {
    return this.edges.filter((e) => e.from === id);
  }

  /** Processor ids, every one after all its upstreams. */
  topologicalOrder(): number[] {
    return topoSort(this.processors.length, this.edges);
  }

  get lateSink(): ProcessorSpec | undefined {
    return this.processors.find((p) => p.isLateSink);
  }
}

function validate(g: Graph): void {
  if (g.processors.length === 0) throw new GraphError(`application "${g.name}" has no processors`);
  g.processors.forEach((p, i) => {
    if (p.id !== i) throw new GraphError(`processor "${p.name}" has id ${p.id}, expected ${i}`);
    if (!Number.isSafeInteger(p.parallelism) || p.parallelism < 1) {
      throw new GraphError(`processor "${p.name}": parallelism must be a positive integer, got ${p.parallelism}`);
    }
    if (p.source && p.parallelism > p.source.maxParallelism) {
      throw new GraphError(`processor "${p.name}": source ${p.source.name} supports parallelism ${p.source.maxParallelism}, got ${p.parallelism}`);
    }
  });
  for (const e of g.edges) {
    const from = g.processors[e.from];
    const to = g.processors[e.to];
    if (!from || !to) throw new GraphError(`edge ${e.from} -> ${e.to} names an unknown processor`);
    if (to.source) throw new GraphError(`source processor "${to.name}" cannot have inputs (edge from "${from.name}")`);
    if (e.partitioner.type === 'forward' && e.kind === 'data' && from.parallelism !== to.parallelism) {
      throw new GraphError(`forward edge "${from.name}" -> "${to.name}" needs equal parallelism (${from.parallelism} vs ${to.parallelism})`);
    }
  }
  for (const p of g.processors) {
    if (!p.source && !g.edges.some((e) => e.to === p.id)) throw new GraphError(`processor "${p.name}" has no input and is not a source`);
  }
  if (!g.processors.some((p) => p.source)) throw new GraphError(`application "${g.name}" has no source`);
  topoSort(g.processors.length, g.edges, g);
}

function topoSort(n: number, edges: readonly EdgeSpec[], g?: Graph): number[] {
  const indegree = new Array<number>(n).fill(0);
  for (const e of edges) indegree[e.to]++;
  const ready = indegree.flatMap((d, i) => (d === 0 ? [i] : []));
  const order: number[] = [];
  while (ready.length > 0) {
    const id = ready.shift()!;
    order.push(id);
    for (const e of edges) if (e.from === id && --indegree[e.to] === 0) ready.push(e.to);
  }
  if (order.length !== n) {
    const stuck = indegree.flatMap((d, i) => (d > 0 ? [g?.processors[i].name ?? String(i)] : []));
    throw new GraphError(`the DAG has a cycle through: ${stuck.join(', ')}`);
  }
  return order;
}

export { ANYWHERE };
