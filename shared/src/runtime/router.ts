import type { Message } from '../api/message.js';
import { ALL_TASKS, type Partitioner } from '../api/partitioner/partitioner.js';
import type { EncodedValues } from '../wire/frame-v2.js';
import type { OutChannel } from './channel.js';

/**
 * Most messages per batch: a channel is flushed mid-batch when it has this many (a frame, the
 * unit of credit), and a source reads at most this many at a time. Sources with a replay log size
 * their reads by bytes below it (SourceFeed.readSize): under load a batch grows towards
 * TARGET_BATCH_BYTES, so the costs paid per batch (a log write, a frame, its ack and credit,
 * a wake-up of each process on the way) are spread over more records; an idle source still
 * hands over whatever it has at once.
 */
export const DEFAULT_BATCH_SIZE = 4096;

export interface RouteInit {
  readonly partitioner: Partitioner;
  /** One channel per receiving task, indexed by task index. */
  readonly channels: readonly OutChannel[];
}

class Route {
  readonly buffers: Message[][];
  /** The clock last sent on each channel, so idle channels get a clock-only batch once per change. */
  readonly sentClock: Float64Array;
  constructor(readonly partitioner: Partitioner, readonly channels: readonly OutChannel[]) {
    this.buffers = channels.map(() => []);
    this.sentClock = new Float64Array(channels.length).fill(-Infinity);
  }
}

/**
 * A task's outputs: partitions each message onto its out-edges' channels, batches per channel,
 * and after each input batch flushes the batches together with the task's new output clock.
 */
export class Router {
  private readonly data: Route[] = [];
  private lateRoute: Route | null = null;
  private readonly all: Route[] = [];
  /** The output clock last flushed: emitting anything older than this is emitting late. */
  lastClock = -Infinity;
  /**
   * The current input batch's values, encoded (a source's replay-log batch), while the task
   * processes it; every send offers them to the channel (encode once). Set by SourceTaskRunner.
   */
  origin: EncodedValues | null = null;

  constructor(private readonly batchSize = DEFAULT_BATCH_SIZE) {}

  /** Adds a data out-edge. Called while wiring, before the task starts. */
  addRoute(init: RouteInit): void {
    const route = new Route(init.partitioner, init.channels);
    this.data.push(route);
    this.all.push(route);
  }

  /** Sets where ctx.late() goes. Called while wiring, before the task starts. */
  setLateRoute(init: RouteInit): void {
    if (this.lateRoute) throw new TypeError('a task has at most one late-data route');
    this.lateRoute = new Route(init.partitioner, init.channels);
    this.all.push(this.lateRoute);
  }

  get hasLateRoute(): boolean {
    return this.lateRoute !== null;
  }

  output(msg: Message): void {
    for (let r = 0; r < this.data.length; r++) this.route(this.data[r], msg);
  }

  late(msg: Message): void {
    if (this.lateRoute) this.route(this.lateRoute, msg);
  }

  private route(route: Route, msg: Message): void {
    const n = route.channels.length;
    const i = route.partitioner.select(msg, n);
    if (i === ALL_TASKS) {
      for (let j = 0; j < n; j++) this.push(route, j, msg);
    } else {
      this.push(route, i, msg);
    }
  }

  /**
   * A full buffer is sent when one more message comes, not when it fills: an input batch of
   * exactly batchSize messages then leaves at the flush as one frame with the new clock, instead
   * of a frame now and an empty clock-only frame at the flush (twice the frames and credits).
   */
  private push(route: Route, i: number, msg: Message): void {
    if (route.buffers[i].length >= this.batchSize) this.send(route, i, this.lastClock);
    route.buffers[i].push(msg);
  }

  private send(route: Route, i: number, clock: number): void {
    const messages = route.buffers[i];
    route.buffers[i] = [];
    route.sentClock[i] = clock;
    route.channels[i].send(messages, clock, this.origin);
  }

  /** Sends every pending batch, and the new clock on every channel that has not seen it yet. */
  flush(clock: number): void {
    if (clock > this.lastClock) this.lastClock = clock;
    const c = this.lastClock;
    for (const route of this.all) {
      for (let i = 0; i < route.channels.length; i++) {
        if (route.buffers[i].length > 0 || route.sentClock[i] < c) this.send(route, i, c);
      }
    }
  }

  /** null when every channel has credit; otherwise a promise for when they all have. */
  whenWritable(): Promise<void> | null {
    let waits: Promise<void>[] | null = null;
    for (const route of this.all) {
      for (const ch of route.channels) {
        const w = ch.whenWritable();
        if (w) (waits ??= []).push(w);
      }
    }
    if (!waits) return null;
    return Promise.all(waits).then(() => undefined);
  }
}
