import type { Placement } from '../dag/placement.js';
import { ANYWHERE } from '../dag/placement.js';
import type { SinkSpec } from '../sink/sink.js';
import type { SourceSpec } from '../source/source.js';
import { sinkOperator } from '../operators/sink-operator.js';
import * as agg from '../operators/aggregators.js';
import type { Aggregator, Stats } from '../operators/aggregators.js';
import {
  filterOperator, flatMapOperator, identityOperator, keyByOperator, mapOperator,
  type FilterFn, type FlatMapFn, type KeyFn, type MapFn,
} from '../operators/stateless.js';
import { globalWindow, type WindowAssigner } from '../operators/window-assigner.js';
import { windowOperator, type WindowResult } from '../operators/window-operator.js';
import type { OperatorFactory } from '../operators/operator.js';
import type { LogicalKind, LogicalNode } from './logical-node.js';
import { compilePipeline } from './planner.js';
import type { Graph } from '../dag/graph.js';

/**
 * The root of a DSL application: `pipeline('name').source(…).map(…).keyBy(…).window(…).sum(…).sink(…)`.
 * Its default export (or a function of the params returning it) is what `tributary run` executes.
 */
export class Pipeline {
  readonly nodes: LogicalNode[] = [];
  lateSink?: SinkSpec;
  idleTimeoutMs = 0;

  constructor(readonly name: string) {
    if (typeof name !== 'string' || name.length === 0) throw new TypeError('pipeline(name): name must be a non-empty string');
  }

  source<T>(spec: SourceSpec<T>): Stream<T> {
    if (spec?.kind !== 'source') throw new TypeError('Pipeline.source(spec): expected a source spec such as jsonLinesSource(path)');
    return new Stream<T>(this, this.add({ kind: 'source', label: spec.name, inputs: [], source: spec as SourceSpec }));
  }

  /** Records from several streams, as one stream. */
  merge<T>(...streams: Stream<T>[]): Stream<T> {
    if (streams.length < 2) throw new TypeError('merge() needs at least two streams');
    return new Stream<T>(this, this.add({ kind: 'merge', label: 'merge', inputs: streams.map((s) => s.node), operator: identityOperator }));
  }

  /** Where records that arrive behind the clock go. Without it they are counted and logged. */
  late(sink: SinkSpec): this {
    if (sink?.kind !== 'sink') throw new TypeError('Pipeline.late(sink): expected a sink spec');
    this.lateSink = sink;
    return this;
  }

  /**
   * Idle-source timeout: a device (an input from another node) silent for `ms` of wall time no
   * longer holds the application's clock back; the rest progresses, and what the device sends
   * later behind the clock goes to the late-data output, counted. Default: wait for it forever.
   * In a source that keeps a clock per device (mqttSource, fleet, WatermarkSpec.perDevice) the
   * same timeout applies to its devices, measured in event time (so that a replay decides the
   * same): a device whose newest timestamp is more than `ms` behind another device's newest.
   */
  idleTimeout(ms: number): this {
    if (!(ms >= 0) || !Number.isFinite(ms)) throw new TypeError('Pipeline.idleTimeout(ms): expected a finite number >= 0');
    this.idleTimeoutMs = ms;
    return this;
  }

  /** Plans the pipeline into a DAG of fused processors. */
  compile(): Graph {
    const g = compilePipeline(this);
    g.idleTimeoutMs = this.idleTimeoutMs;
    return g;
  }

  /** @internal */
  add(init: { kind: LogicalKind; label: string; inputs: LogicalNode[]; operator?: OperatorFactory; source?: SourceSpec; sink?: SinkSpec }): LogicalNode {
    for (const i of init.inputs) if (!this.nodes.includes(i)) throw new TypeError('cannot combine streams of different pipelines');
    const first = init.inputs[0];
    const node: LogicalNode = {
      id: this.nodes.length,
      parallelism: first ? first.parallelism : 1,
      parallelismSet: false,
      placement: first && init.inputs.every((i) => i.placement === first.placement) ? first.placement : ANYWHERE,
      ...init,
    };
    if (init.sink) node.parallelism = Math.min(node.parallelism, init.sink.maxParallelism);
    this.nodes.push(node);
    return node;
  }
}

export function pipeline(name: string): Pipeline {
  return new Pipeline(name);
}

export class Stream<T> {
  constructor(protected readonly pipeline: Pipeline, readonly node: LogicalNode) {}

  protected next<U>(kind: LogicalKind, label: string, operator: OperatorFactory): Stream<U> {
    return new Stream<U>(this.pipeline, this.pipeline.add({ kind, label, inputs: [this.node], operator }));
  }

  map<U>(fn: MapFn<T, U>): Stream<U> {
    return this.next('map', 'map', mapOperator(checkFn('map', fn)));
  }

  filter(fn: FilterFn<T>): Stream<T> {
    return this.next('filter', 'filter', filterOperator(checkFn('filter', fn)));
  }

  flatMap<U>(fn: FlatMapFn<T, U>): Stream<U> {
    return this.next('flatMap', 'flatMap', flatMapOperator(checkFn('flatMap', fn)));
  }

  /** Groups by key: the next operator's tasks each own a share of the keys (hash partitioning). */
  keyBy<K>(fn: KeyFn<T, K>): KeyedStream<K, T> {
    const s = this.next<T>('keyBy', 'keyBy', keyByOperator(checkFn('keyBy', fn)));
    return new KeyedStream<K, T>(this.pipeline, s.node);
  }

  merge(...others: Stream<T>[]): Stream<T> {
    return this.pipeline.merge(this, ...others);
  }

  /** The next operator receives records round-robin, whatever their key. */
  rebalance(): Stream<T> {
    return this.repartition('shuffle');
  }

  /** Every task of the next operator receives every record. */
  broadcast(): Stream<T> {
    return this.repartition('broadcast');
  }

  private repartition(type: 'shuffle' | 'broadcast'): Stream<T> {
    const s = this.next<T>('map', type, identityOperator);
    s.node.inputPartitioner = { type };
    return s;
  }

  /** Ends the stream in a sink. Returns the pipeline, so `export default pipeline(…)….sink(…)` works. */
  sink(spec: SinkSpec<T>): Pipeline {
    if (spec?.kind !== 'sink') throw new TypeError('sink(spec): expected a sink spec such as jsonLinesSink(path)');
    this.pipeline.add({ kind: 'sink', label: spec.name, inputs: [this.node], operator: sinkOperator(spec as SinkSpec), sink: spec as SinkSpec });
    return this.pipeline;
  }

  /** How many parallel tasks run this operator. */
  parallelism(n: number): this {
    if (!Number.isSafeInteger(n) || n < 1) throw new TypeError(`parallelism(n): n must be a positive integer, got ${n}`);
    this.node.parallelism = n;
    this.node.parallelismSet = true;
    return this;
  }

  /** A name for this operator in plans, logs and the dashboard. */
  named(label: string): this {
    this.node.label = label;
    return this;
  }

  /** Where this operator runs (edge with a label selector, cloud, or any); downstream inherits it. */
  at(where: Placement['where'], selector?: Record<string, string>): this {
    if (!['edge', 'cloud', 'any'].includes(where)) throw new TypeError(`at(where): expected 'edge', 'cloud' or 'any', got ${JSON.stringify(where)}`);
    this.node.placement = selector ? { where, selector: { ...selector } } : { where };
    return this;
  }
}

/** A stream grouped by key. Aggregates without a window cover the whole input and emit at its end. */
export class KeyedStream<K, T> extends Stream<T> {
  window(assigner: WindowAssigner): WindowedStream<K, T> {
    return new WindowedStream<K, T>(this.pipeline, this.node, assigner);
  }

  aggregate<A, R>(aggregator: Aggregator<T, A, R>): Stream<WindowResult<K, R>> {
    return this.window(globalWindow()).aggregate(aggregator);
  }
  count(): Stream<WindowResult<K, number>> {
    return this.aggregate(agg.count<T>());
  }
  sum(of: (v: T) => number): Stream<WindowResult<K, number>> {
    return this.aggregate(agg.sum(of));
  }
  reduce(fn: (a: T, b: T) => T): Stream<WindowResult<K, T>> {
    return this.aggregate(agg.reduce(fn));
  }
}

/** A keyed stream cut into event-time windows; each aggregate emits one result per key per window. */
export class WindowedStream<K, T> {
  constructor(private readonly pipeline: Pipeline, private readonly input: LogicalNode, private readonly assigner: WindowAssigner) {}

  aggregate<A, R>(aggregator: Aggregator<T, A, R>): Stream<WindowResult<K, R>> {
    const a = this.assigner;
    const label = `window(${a.kind}${a.kind === 'global' ? '' : ` ${a.sizeMs}ms`}${a.kind === 'sliding' ? `/${a.slideMs}ms` : ''}, ${aggregator.name})`;
    const node = this.pipeline.add({ kind: 'window', label, inputs: [this.input], operator: windowOperator(a, aggregator) });
    return new Stream(this.pipeline, node);
  }
  count(): Stream<WindowResult<K, number>> {
    return this.aggregate(agg.count<T>());
  }
  sum(of: (v: T) => number): Stream<WindowResult<K, number>> {
    return this.aggregate(agg.sum(of));
  }
  min(of: (v: T) => number): Stream<WindowResult<K, number>> {
    return this.aggregate(agg.min(of));
  }
  max(of: (v: T) => number): Stream<WindowResult<K, number>> {
    return this.aggregate(agg.max(of));
  }
  avg(of: (v: T) => number): Stream<WindowResult<K, number>> {
    return this.aggregate(agg.avg(of));
  }
  stats(of: (v: T) => number): Stream<WindowResult<K, Stats>> {
    return this.aggregate(agg.stats(of));
  }
  reduce(fn: (a: T, b: T) => T): Stream<WindowResult<K, T>> {
    return this.aggregate(agg.reduce(fn));
  }
}

function checkFn<F>(op: string, fn: F): F {
  if (typeof fn !== 'function') throw new TypeError(`${op}(fn): fn must be a function`);
  return fn;
}
