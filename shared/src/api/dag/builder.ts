import { GraphError } from '../errors.js';
import type { PartitionerSpec } from '../partitioner/partitioner.js';
import type { SinkSpec } from '../sink/sink.js';
import type { SourceSpec } from '../source/source.js';
import { sinkOperator } from '../operators/sink-operator.js';
import { ChainTask } from '../operators/chain-task.js';
import { IdentityTask, type Task, type TaskContext, type TaskFactory } from '../task/task.js';
import { Graph, type EdgeSpec, type ProcessorSpec } from './graph.js';
import { ANYWHERE, type Placement } from './placement.js';

export interface ProcessorOptions {
  name?: string;
  parallelism?: number;
  config?: Record<string, unknown>;
  placement?: Placement;
}

type TaskClass = new (ctx: TaskContext) => Task;

/**
 * A processor not yet placed in a graph (the low-level API). Gearpump writes
 * `Graph(A ~> B ~> C, B ~> E ~> D)`; here that is `graph(A.to(B).to(C), B.to(E).to(D))`, with an
 * optional partitioner per hop: `A.to(B, hash())`.
 */
export class ProcessorDef {
  constructor(
    readonly name: string,
    readonly taskFactory: TaskFactory,
    readonly options: Required<Omit<ProcessorOptions, 'name'>>,
    readonly source?: SourceSpec,
    readonly sink?: SinkSpec,
  ) {}

  to(next: ProcessorDef, partitioner?: PartitionerSpec): Path {
    return new Path([this]).to(next, partitioner);
  }
}

interface Link {
  from: ProcessorDef;
  to: ProcessorDef;
  partitioner?: PartitionerSpec;
}

/** A chain of processors built with `.to()`; `.to()` continues from its last processor. */
export class Path {
  constructor(readonly nodes: readonly ProcessorDef[], readonly links: readonly Link[] = []) {}

  to(next: ProcessorDef, partitioner?: PartitionerSpec): Path {
    const last = this.nodes[this.nodes.length - 1];
    return new Path([...this.nodes, next], [...this.links, { from: last, to: next, partitioner }]);
  }
}

function defaults(opts: ProcessorOptions): Required<Omit<ProcessorOptions, 'name'>> {
  return { parallelism: opts.parallelism ?? 1, config: opts.config ?? {}, placement: opts.placement ?? ANYWHERE };
}

/** A processor whose tasks are instances of `task` (a Task subclass or a factory). */
export function processor(task: TaskClass | TaskFactory, opts: ProcessorOptions = {}): ProcessorDef {
  const factory: TaskFactory = isClass(task) ? (ctx) => new task(ctx) : task;
  return new ProcessorDef(opts.name ?? (isClass(task) ? task.name : 'processor'), factory, defaults(opts));
}

/** A processor that reads a source and emits its records unchanged. */
export function sourceProcessor(source: SourceSpec, opts: ProcessorOptions = {}): ProcessorDef {
  return new ProcessorDef(opts.name ?? source.name, (ctx) => new IdentityTask(ctx), defaults(opts), source);
}

/** A processor that writes everything it receives to a sink. */
export function sinkProcessor(sink: SinkSpec, opts: ProcessorOptions = {}): ProcessorDef {
  return new ProcessorDef(opts.name ?? sink.name, (ctx) => new ChainTask(ctx, [sinkOperator(sink)]), defaults(opts), undefined, sink);
}

function isClass(fn: TaskClass | TaskFactory): fn is TaskClass {
  return typeof fn === 'function' && /^class\b/.test(Function.prototype.toString.call(fn));
}

export interface GraphOptions {
  name?: string;
  /** Receives every record that arrives behind the clock, from any processor. */
  late?: ProcessorDef;
}

/** Builds a validated Graph from paths; a processor used in several paths is one vertex. */
export function graph(...paths: Path[]): Graph;
export function graph(options: GraphOptions, ...paths: Path[]): Graph;
export function graph(first: GraphOptions | Path, ...rest: Path[]): Graph {
  const options = first instanceof Path ? {} : first;
  const paths = first instanceof Path ? [first, ...rest] : rest;
  const ids = new Map<ProcessorDef, number>();
  const specs: ProcessorSpec[] = [];
  const add = (def: ProcessorDef, isLateSink = false): number => {
    let id = ids.get(def);
    if (id === undefined) {
      id = specs.length;
      ids.set(def, id);
      specs.push({ id, name: def.name, taskFactory: def.taskFactory, source: def.source, chain: [def.name], isLateSink, ...(def.sink ? { sinks: [def.sink] } : {}), ...def.options });
    }
    return id;
  };
  const edges: EdgeSpec[] = [];
  for (const path of paths) {
    path.nodes.forEach((n) => add(n));
    for (const link of path.links) {
      const from = add(link.from);
      const to = add(link.to);
      if (edges.some((e) => e.from === from && e.to === to)) throw new GraphError(`edge "${link.from.name}" -> "${link.to.name}" is declared twice`);
      edges.push({ from, to, kind: 'data', partitioner: link.partitioner ?? defaultPartitioner(link.from, link.to) });
    }
  }
  if (options.late) addLateEdges(add(options.late, true), specs, edges);
  return new Graph(options.name ?? 'graph', specs, edges);
}

/** Forward when the two sides have equal parallelism (the cheapest pipe), round-robin otherwise. */
export function defaultPartitioner(from: { options: { parallelism: number } }, to: { options: { parallelism: number } }): PartitionerSpec {
  return { type: from.options.parallelism === to.options.parallelism ? 'forward' : 'shuffle' };
}

/** Every processor can divert late records; they all feed the late sink. */
export function addLateEdges(lateId: number, specs: readonly ProcessorSpec[], edges: EdgeSpec[]): void {
  for (const p of specs) {
    if (p.id !== lateId) edges.push({ from: p.id, to: lateId, kind: 'late', partitioner: { type: 'shuffle' } });
  }
}
