import type { Placement } from '../dag/placement.js';
import type { OperatorFactory } from '../operators/operator.js';
import type { PartitionerSpec } from '../partitioner/partitioner.js';
import type { SinkSpec } from '../sink/sink.js';
import type { SourceSpec } from '../source/source.js';

export type LogicalKind = 'source' | 'map' | 'filter' | 'flatMap' | 'keyBy' | 'window' | 'merge' | 'sink';

/** One DSL operation, before planning. Created in order, so inputs always precede a node. */
export interface LogicalNode {
  readonly id: number;
  readonly kind: LogicalKind;
  label: string;
  readonly inputs: readonly LogicalNode[];
  parallelism: number;
  /** True once the user set parallelism explicitly (it then is not capped silently). */
  parallelismSet: boolean;
  placement: Placement;
  /** How this node wants its input partitioned (rebalance/broadcast); otherwise derived. */
  inputPartitioner?: PartitionerSpec;
  readonly operator?: OperatorFactory;
  readonly source?: SourceSpec;
  readonly sink?: SinkSpec;
}

/** What the planner reads of a pipeline (the DSL's Pipeline is one). */
export interface LogicalPlan {
  readonly name: string;
  readonly nodes: readonly LogicalNode[];
  readonly lateSink?: SinkSpec;
  readonly idleTimeoutMs: number;
}
