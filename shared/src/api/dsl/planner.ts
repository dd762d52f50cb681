import { addLateEdges } from '../dag/builder.js';
import { Graph, type EdgeSpec, type ProcessorSpec } from '../dag/graph.js';
import { samePlacement } from '../dag/placement.js';
import { GraphError } from '../errors.js';
import type { OperatorFactory } from '../operators/operator.js';
import { sinkOperator } from '../operators/sink-operator.js';
import type { PartitionerSpec } from '../partitioner/partitioner.js';
import { ChainTask } from '../operators/chain-task.js';
import type { LogicalNode, LogicalPlan } from './logical-node.js';

/**
 * Plans a DSL pipeline into a DAG of processors.
 *
 * Fusion rule (Gearpump's planner chains bottom-up; the result is the same): an operator joins
 * the task of its input when no shuffle is needed between them, that is when
 *   - it has exactly one input, and that input has exactly one consumer (no fan-in or fan-out),
 *   - both have the same parallelism and the same placement,
 *   - and the hop is one-to-one: a forward edge, or any partitioner when both run one task
 *     (hashing or broadcasting into a single task needs no shuffle).
 * Sources start a chain, merges start a chain. Within a chain, operators call each other directly.
 */
export function compilePipeline(p: LogicalPlan): Graph {
  validateLogical(p);
  const consumers = countConsumers(p.nodes);
  const chainOf = new Map<LogicalNode, LogicalNode[]>();
  const chains: LogicalNode[][] = [];
  for (const node of p.nodes) {
    const input = node.inputs[0];
    if (input && fusable(node, input, consumers)) {
      const chain = chainOf.get(input)!;
      chain.push(node);
      chainOf.set(node, chain);
    } else {
      const chain = [node];
      chains.push(chain);
      chainOf.set(node, chain);
    }
  }
  const ids = new Map(chains.map((c, i) => [c, i]));
  const processors = chains.map((chain, id) => toProcessor(chain, id));
  const edges: EdgeSpec[] = [];
  for (const node of p.nodes) {
    for (const input of node.inputs) {
      const from = ids.get(chainOf.get(input)!)!;
      const to = ids.get(chainOf.get(node)!)!;
      if (from === to) continue;
      if (edges.some((e) => e.from === from && e.to === to)) throw new GraphError(`"${input.label}" is connected to "${node.label}" twice`);
      edges.push({ from, to, kind: 'data', partitioner: partitionerFor(input, node) });
    }
  }
  if (p.lateSink) {
    const id = processors.length;
    const sink = p.lateSink;
    processors.push({
      id, name: `late: ${sink.name}`, parallelism: 1, placement: { where: 'any' }, config: {}, chain: [sink.name], isLateSink: true, sinks: [sink],
      taskFactory: (ctx) => new ChainTask(ctx, [sinkOperator(sink)]),
    });
    addLateEdges(id, processors, edges);
  }
  return new Graph(p.name, processors, edges);
}

function fusable(node: LogicalNode, input: LogicalNode, consumers: Map<LogicalNode, number>): boolean {
  if (node.kind === 'source' || node.kind === 'merge' || node.inputs.length !== 1) return false;
  if (consumers.get(input) !== 1) return false;
  if (node.parallelism !== input.parallelism || !samePlacement(node.placement, input.placement)) return false;
  return partitionerFor(input, node).type === 'forward' || node.parallelism === 1;
}

/** Explicit rebalance/broadcast wins; after keyBy, hash; otherwise forward when 1:1, else round-robin. */
function partitionerFor(input: LogicalNode, node: LogicalNode): PartitionerSpec {
  if (node.inputPartitioner) return node.inputPartitioner;
  if (input.kind === 'keyBy') return { type: 'hash' };
  return { type: input.parallelism === node.parallelism ? 'forward' : 'shuffle' };
}

function toProcessor(chain: LogicalNode[], id: number): ProcessorSpec {
  const head = chain[0];
  const ops: OperatorFactory[] = chain.filter((n) => n.operator).map((n) => n.operator!);
  return {
    id,
    name: chain.map((n) => n.label).join(' > '),
    parallelism: head.parallelism,
    placement: head.placement,
    source: head.source,
    config: {},
    chain: chain.map((n) => n.label),
    sinks: chain.flatMap((n) => (n.sink ? [n.sink] : [])),
    taskFactory: (ctx) => new ChainTask(ctx, ops),
  };
}

function countConsumers(nodes: readonly LogicalNode[]): Map<LogicalNode, number> {
  const counts = new Map<LogicalNode, number>(nodes.map((n) => [n, 0]));
  for (const n of nodes) for (const i of n.inputs) counts.set(i, counts.get(i)! + 1);
  return counts;
}

function validateLogical(p: LogicalPlan): void {
  if (!p.nodes.some((n) => n.kind === 'source')) throw new GraphError(`pipeline "${p.name}" has no source`);
  const consumers = countConsumers(p.nodes);
  for (const n of p.nodes) {
    if (n.kind !== 'sink' && consumers.get(n) === 0) {
      throw new GraphError(`pipeline "${p.name}": the stream from "${n.label}" is never consumed; end it with .sink(…)`);
    }
    if (n.sink && n.parallelism > n.sink.maxParallelism) {
      throw new GraphError(`sink ${n.sink.name} supports parallelism ${n.sink.maxParallelism}, got ${n.parallelism}`);
    }
  }
}
