/**
 * Scenario 3, the baselines every other figure is divided by, measured in the same invocation:
 *  (a) transport ceiling: raw mqtt.js publisher -> the embedded aedes broker (own process) -> raw
 *      subscriber, Tributary's frames of 1,000 records (same cbor-x encoder), QoS 1, no
 *      processing, no durability; throughput, and latency at each load of the latency scenario;
 *  (a') hand-written pipeline: the same durable work as Tributary's edge -> cloud path written
 *      plainly — generate, one frame of 1,000 records, one awaited LevelDB put per frame, QoS 1
 *      publish with 32 frames awaiting PUBACK, decode, keyed 1 s tumbling window — in the same
 *      publisher and subscriber processes as (a);
 *  (b) Node-RED: mqtt in -> function -> mqtt out through the same broker, one JSON record per
 *      message (it has no batching);
 *  (c) local mode: the same app in one process (LocalRuntime, no broker), the processing ceiling.
 */
import { join } from 'node:path';
import { pacedLoad, unpacedLoad } from '../apps/devices.js';
import type { BenchContext } from '../lib/context.js';
import { MqttRig } from '../lib/mqtt-rig.js';
import { measureLocal } from './local.js';
import { measureNodeRed } from './node-red.js';
import type { Scenario } from './scenario.js';
import { summarizeRuns, type RunFigures } from '../lib/results.js';
import { int } from '../lib/table.js';

const DEVICES = 10;
export const FRAME_RECORDS = 1000;
/** Frames awaiting PUBACK at once: Tributary's remote channel allows 32 unprocessed frames. */
export const INFLIGHT_FRAMES = 32;

async function measureTransport(ctx: BenchContext, rig: MqttRig): Promise<void> {
  const o = ctx.options;
  const load = unpacedLoad(DEVICES, o.transportRecords, o.eventRate);
  const runs: RunFigures[] = [];
  for (let i = 0; i < o.runs; i++) {
    const topic = `bench/transport/tp${i}`;
    const r = await rig.run({ inTopic: topic, outTopic: topic, load, format: 'frames', frameRecords: FRAME_RECORDS, inflight: INFLIGHT_FRAMES, warmupMs: null, timeoutMs: o.runTimeoutMs }, load.devices * load.ticks);
    ctx.say(`  transport run ${i + 1}: ${int(r.rate)} records/s`);
    runs.push(r);
  }
  ctx.add(summarizeRuns({ scenario: 'baselines', case: `transport ceiling (${DEVICES} devices, ${FRAME_RECORDS}/frame, QoS 1)`, records: load.devices * load.ticks, devices: DEVICES, role: 'transport' }, runs));

  for (const rate of o.latencyRates) {
    const seconds = o.latencyWarmupSec + o.latencySeconds;
    const paced = pacedLoad(DEVICES, rate, seconds);
    const topic = `bench/transport/lat${rate}`;
    const r = await rig.run({ inTopic: topic, outTopic: topic, load: paced, format: 'frames', frameRecords: FRAME_RECORDS, inflight: INFLIGHT_FRAMES, warmupMs: o.latencyWarmupSec * 1000, timeoutMs: o.runTimeoutMs + seconds * 1000 }, paced.devices * paced.ticks);
    ctx.say(`  transport at ${int(rate)} records/s: p50 ${r.latency?.p50} ms, p99 ${r.latency?.p99} ms, max ${r.latency?.max} ms`);
    ctx.add(summarizeRuns({ scenario: 'baselines', case: `transport latency at ${int(rate)} records/s`, records: paced.devices * paced.ticks, devices: DEVICES, offeredRate: rate, role: 'transport-latency' }, [r], { rate: false }));
  }
}

/**
 * Issue 14's baseline: what a developer would write by hand for the throughput scenario's durable
 * work, with no framework: as many records as a Tributary run (--records), 10 devices.
 */
async function measureHandWritten(ctx: BenchContext, rig: MqttRig): Promise<void> {
  const o = ctx.options;
  const load = unpacedLoad(DEVICES, o.records, o.eventRate);
  const runs: RunFigures[] = [];
  for (let i = 0; i < o.runs; i++) {
    const topic = `bench/hand-written/hw${i}`;
    const r = await rig.run({
      inTopic: topic, outTopic: topic, load, format: 'frames', frameRecords: FRAME_RECORDS, inflight: INFLIGHT_FRAMES, warmupMs: null,
      timeoutMs: o.runTimeoutMs, durableDir: join(ctx.dir, `hand-written-${i}`), windowMs: 1000,
    }, load.devices * load.ticks);
    ctx.say(`  hand-written run ${i + 1}: ${int(r.rate)} records/s`);
    runs.push(r);
  }
  ctx.add(summarizeRuns({
    scenario: 'baselines', case: `hand-written pipeline (${DEVICES} devices, LevelDB put per frame, QoS 1, keyed 1 s window)`, records: load.devices * load.ticks, devices: DEVICES, role: 'hand-written',
    notes: ['generate, one frame per 1,000 records, one awaited LevelDB put per frame, QoS 1 publish with 32 frames in flight, decode, keyed 1 s tumbling window'],
  }, runs));
}

export const baselines: Scenario = {
  name: 'baselines',
  title: '3. Baselines: transport ceiling, Node-RED, local mode',
  clusters: [],
  async run(ctx) {
    const rig = await MqttRig.start();
    try {
      await measureTransport(ctx, rig);
      await measureHandWritten(ctx, rig);
      await measureNodeRed(ctx, rig, DEVICES);
    } finally {
      await rig.stop();
    }
    await measureLocal(ctx);
  },
};
