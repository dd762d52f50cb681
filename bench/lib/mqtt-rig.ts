/**
 * The baselines' rig: the embedded aedes broker alone in its own process, a publisher process and
 * a subscriber process (bench/children/), all on loopback. One run = arm the subscriber, publish
 * the load, wait until every record has arrived; usage is taken over the data flow.
 */
import { join } from 'node:path';
import type { DeviceLoad } from '../apps/devices.js';
import { BenchChild } from './child.js';
import { benchDir } from './paths.js';
import { UsageWindow } from './procs.js';
import { rateOf, type Latency, type RunFigures } from './results.js';

const script = (name: string) => join(benchDir, 'children', `${name}.ts`);
const READY_MS = 30_000;

export interface RigRun {
  /** Where the publisher publishes and the subscriber listens (the same topic without a relay). */
  inTopic: string;
  outTopic: string;
  load: DeviceLoad;
  format: 'frames' | 'json';
  frameRecords: number;
  inflight: number;
  /** Event-time warm-up before latency is measured; null: no latency (unpaced loads). */
  warmupMs: number | null;
  timeoutMs: number;
  /** Further processes to account for (a relay such as Node-RED), by name. */
  extraPids?: Record<string, number>;
  /** Hand-written pipeline: the publisher logs each frame to a LevelDB here before publishing it. */
  durableDir?: string;
  /** Hand-written pipeline: the subscriber runs keyed tumbling windows of this size. */
  windowMs?: number;
}

export class MqttRig {
  private constructor(readonly url: string, private readonly broker: BenchChild, private readonly pub: BenchChild, private readonly sub: BenchChild) {}

  static async start(): Promise<MqttRig> {
    const broker = BenchChild.start('broker', script('broker'));
    const started = [broker];
    try {
      const url = String((await broker.next('ready', READY_MS)).url);
      const pub = BenchChild.start('publisher', script('publisher'), [JSON.stringify({ url, clientId: 'bench-publisher' })]);
      started.push(pub);
      const sub = BenchChild.start('subscriber', script('subscriber'), [JSON.stringify({ url, clientId: 'bench-subscriber' })]);
      started.push(sub);
      await Promise.all([pub.next('ready', READY_MS), sub.next('ready', READY_MS)]);
      return new MqttRig(url, broker, pub, sub);
    } catch (err) {
      await Promise.all(started.map((c) => c.stop()));
      throw err;
    }
  }

  get brokerPid(): number {
    return this.broker.pid;
  }

  async run(r: RigRun, expected: number): Promise<RunFigures> {
    await this.sub.request({ type: 'expect', topic: r.outTopic, format: r.format, records: expected, warmupMs: r.warmupMs, timeoutMs: r.timeoutMs, windowMs: r.windowMs }, 'armed', READY_MS);
    const window = new UsageWindow({ broker: this.broker.pid, ...(r.extraPids ?? {}), publisher: this.pub.pid, subscriber: this.sub.pid }).start();
    const t0 = Date.now();
    let stopped = false;
    try {
      const published = await this.pub.request({ type: 'publish', topic: r.inTopic, load: r.load, format: r.format, frameRecords: r.frameRecords, inflight: r.inflight, durableDir: r.durableDir }, 'published', r.timeoutMs);
      const got = await this.sub.next('received', r.timeoutMs);
      const records = Number(got.records);
      const { usage, cpuSecTotal } = window.stop([Number(got.firstArrival), Number(got.lastArrival)]);
      stopped = true;
      if (got.timedOut || records < expected) {
        throw new Error(`${r.outTopic}: ${records} of ${expected} records arrived (published ${String(published.records)}) within ${Math.round(r.timeoutMs / 1000)} s`);
      }
      if (r.windowMs && Number(got.windowed) !== records) throw new Error(`${r.outTopic}: the windows hold ${String(got.windowed)} of ${records} records`);
      return {
        records,
        rate: rateOf(records, Number(got.firstArrival), Number(got.lastArrival)),
        latency: (got.latency as Latency | null) ?? null,
        usage,
        cpuSecTotal,
        wallMs: Date.now() - t0,
      };
    } finally {
      if (!stopped) window.stop();
    }
  }

  async stop(): Promise<void> {
    await Promise.all([this.pub.stop(), this.sub.stop()]);
    await this.broker.stop();
  }
}
