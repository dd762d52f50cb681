import { FleetGenerator, type FleetOptions, type FleetReading, type Message } from '@tributary/shared';

/** Which devices of the fleet to plan: the node and task that would play them. */
export interface FleetPlanPlacement {
  /** Node id the device ids derive from (default `local`, the id LocalRuntime gives its tasks). */
  nodeId?: string;
  taskIndex?: number;
  parallelism?: number;
}

/**
 * The records the `fleet` source delivers for these options, in the same order, computed with the
 * same generator and no runtime: expected answers for tests and benchmarks. Pure: `startTs` is
 * required (the source's default is the wall clock), and so is `count` (a plan is finite).
 */
export function fleetPlan(options: FleetOptions, placement: FleetPlanPlacement = {}): Message<FleetReading>[] {
  const out: Message<FleetReading>[] = [];
  for (const batch of fleetBatches(options, placement)) for (const m of batch) out.push(m);
  return out;
}

/**
 * The same records in batches of up to `batchSize` (batching never changes the sequence), for
 * plans too large to hold at once. Unbounded fleets (no `count`) go on for ever.
 */
export function* fleetBatches(options: FleetOptions, placement: FleetPlanPlacement = {}, batchSize = 4096): Generator<Message<FleetReading>[]> {
  if (options.startTs === undefined) throw new TypeError('fleetPlan: startTs is required (the source defaults to the wall clock)');
  const gen = new FleetGenerator(options, { nodeId: placement.nodeId ?? 'local', taskIndex: placement.taskIndex, parallelism: placement.parallelism, startTs: options.startTs });
  while (!gen.ended) {
    const batch: Message<FleetReading>[] = [];
    gen.fill(batch, batchSize);
    yield batch;
  }
}

/** The device ids a fleet plays on a node (all tasks together). */
export function fleetDeviceIds(options: Pick<FleetOptions, 'devices'>, nodeId = 'local'): string[] {
  return typeof options.devices === 'object' ? [...options.devices] : Array.from({ length: options.devices ?? 10 }, (_, i) => `${nodeId}-d${i}`);
}
