/** Baseline (b): Node-RED relaying the same records, one JSON message each (see lib/node-red.ts). */
import { join } from 'node:path';
import { unpacedLoad } from '../apps/devices.js';
import type { BenchContext } from '../lib/context.js';
import type { MqttRig } from '../lib/mqtt-rig.js';
import { startNodeRed } from '../lib/node-red.js';
import { summarizeRuns, type RunFigures } from '../lib/results.js';
import { int } from '../lib/table.js';

const IN = 'bench/node-red/in';
const OUT = 'bench/node-red/out';
/** Unacknowledged messages the publisher may have in flight (QoS 1). */
const INFLIGHT = 100;

export async function measureNodeRed(ctx: BenchContext, rig: MqttRig, devices: number): Promise<void> {
  const o = ctx.options;
  const t0 = Date.now();
  const nodeRed = await startNodeRed(join(ctx.dir, 'node-red'), rig.url, IN, OUT);
  ctx.say(`  Node-RED ${nodeRed.version} up in ${((Date.now() - t0) / 1000).toFixed(1)} s (headless, probe relayed)`);
  try {
    const load = unpacedLoad(devices, o.nodeRedRecords, o.eventRate);
    const runs: RunFigures[] = [];
    for (let i = 0; i < o.runs; i++) {
      // Node-RED relays ~25k records/s here: allow for a tenth of that before calling it stuck.
      const timeoutMs = o.runTimeoutMs + (load.devices * load.ticks) / 2.5;
      const r = await rig.run({ inTopic: IN, outTopic: OUT, load, format: 'json', frameRecords: 1, inflight: INFLIGHT, warmupMs: null, timeoutMs, extraPids: { 'node-red': nodeRed.pid } }, load.devices * load.ticks);
      ctx.say(`  Node-RED run ${i + 1}: ${int(r.rate)} records/s`);
      runs.push(r);
    }
    ctx.add(summarizeRuns({
      scenario: 'baselines', case: `Node-RED ${nodeRed.version} (mqtt in -> function -> mqtt out)`, records: load.devices * load.ticks, devices, role: 'node-red',
      notes: ['one JSON record per MQTT message, QoS 1 in and out'],
    }, runs));
  } finally {
    await nodeRed.stop();
  }
}
