import { setTimeout as sleep } from 'node:timers/promises';
import { ErrorCodes, TributaryError } from '../errors.js';
import type { Message } from '../message.js';
import { checkFleetOptions, FleetGenerator, fleetMaxDelayMs, type FleetOptions, type FleetPosition, type FleetReading } from './fleet-generator.js';
import type { Source, SourceContext, SourceSpec } from './source.js';

export {
  FleetGenerator,
  fleetMaxDelayMs,
  type FleetBursts,
  type FleetDisconnect,
  type FleetModel,
  type FleetOptions,
  type FleetPlacement,
  type FleetPosition,
  type FleetReading,
} from './fleet-generator.js';

/** Longest a paced read() waits before returning an empty batch, so a stop request is seen. */
const MAX_PACE_WAIT_MS = 1000;

/**
 * A fleet of virtual devices behind one source: thousands of light in-process devices on one
 * agent, each with its own seeded stream (value model, spikes, payload size, clock skew, bounded
 * out-of-order delivery, bursts, disconnects with a backlog). Device ids default to
 * `${nodeId}-d${i}`, so the same application on several agents plays distinct devices.
 *
 * The same options and seed always give the same records in the same order, however reads are
 * batched (fleet-generator.ts says how); `position()` and `ctx.resumeFrom` continue a restarted
 * source exactly after the last record the replay log holds. `fleetPlan` in @tributary/simulators
 * computes the same records without a runtime.
 *
 * The watermark delay covers clock skew and out-of-order delivery (see `FleetOptions.maxDelayMs`);
 * with parallelism p, task k plays the devices with index ≡ k (mod p).
 */
export function fleet(options: FleetOptions = {}): SourceSpec<FleetReading> {
  checkFleetOptions(options);
  const devices = typeof options.devices === 'object' ? options.devices.length : (options.devices ?? 10);
  const sensors = options.sensors ?? ['temperature'];
  return {
    kind: 'source',
    name: `fleet(${devices} devices × ${sensors.join(',')})`,
    // A clock per device: each device's readings are in order up to its own skew and delay.
    watermark: { maxDelayMs: fleetMaxDelayMs(options), perDevice: true, deviceOf: (m) => (m.value as FleetReading).device },
    maxParallelism: devices,
    create: () => new FleetSource(options),
  };
}

/** One task of `fleet`: the generator plus wall-clock pacing. */
class FleetSource implements Source<FleetReading> {
  private gen!: FleetGenerator;
  private readonly paced: boolean;
  /** Pacing: event time `paceTs` is due at wall time `paceWall`, and so on in step. */
  private paceWall = 0;
  private paceTs = 0;

  constructor(private readonly o: FleetOptions) {
    this.paced = o.paced ?? o.count === undefined;
  }

  open(ctx: SourceContext): void {
    const placement = { nodeId: ctx.nodeId, taskIndex: ctx.taskIndex, parallelism: ctx.parallelism, startTs: this.o.startTs ?? Date.now() };
    try {
      this.gen = new FleetGenerator(this.o, placement, (ctx.resumeFrom ?? undefined) as FleetPosition | undefined);
    } catch (cause) {
      throw new TributaryError(ErrorCodes.SOURCE_FAILED, `fleet: ${(cause as Error).message}`, { cause });
    }
    // After a resume, pacing goes on from the resume point at the configured rate (no catch-up).
    this.paceWall = Date.now();
    const next = this.gen.nextTickTs();
    this.paceTs = next === Infinity ? this.gen.startTs : next;
  }

  async read(max: number): Promise<Message<FleetReading>[] | null> {
    const gen = this.gen;
    if (gen.ended) return null;
    const out: Message<FleetReading>[] = [];
    const n = Math.max(1, max);
    if (!this.paced) {
      gen.fill(out, n);
      return out.length === 0 && gen.ended ? null : out;
    }
    gen.fill(out, n, this.dueTs());
    if (out.length === 0 && !gen.ended) {
      await sleep(Math.max(1, Math.min(MAX_PACE_WAIT_MS, gen.nextTickTs() - this.dueTs())));
      gen.fill(out, n, this.dueTs());
    }
    return out.length === 0 && gen.ended ? null : out;
  }

  /** Event time the wall clock has reached, for a paced fleet. */
  private dueTs(): number {
    return this.paceTs + (Date.now() - this.paceWall);
  }

  position(): FleetPosition {
    return this.gen.position();
  }

  close(): void {}
}
