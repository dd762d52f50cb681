/**
 * The application the edge-to-cloud benchmark submits: simulated sensors on the agent, a hop
 * through the broker, and a sink on the worker that timestamps every arrival and, when the input
 * ends, writes throughput and latency figures (event time vs arrival, one machine, one clock).
 */
import { writeFileSync } from 'node:fs';
import { pipeline, simulatedSensors, type Params, type SensorReading, type SinkSpec } from 'tributary';

/** Latency counts only records born `warmupMs` after the first one: start-up is not steady state. */
function latencySink(output: string, warmupMs: number): SinkSpec<SensorReading> {
  return {
    kind: 'sink',
    name: 'latency',
    maxParallelism: 1,
    create: () => {
      const latencies: number[] = [];
      let records = 0;
      let firstTs = 0;
      let first = 0;
      let last = 0;
      return {
        open() {},
        write(batch) {
          const now = Date.now();
          if (first === 0) first = now;
          last = now;
          records += batch.length;
          if (firstTs === 0 && batch.length > 0) firstTs = batch[0].ts;
          for (const m of batch) if (m.ts >= firstTs + warmupMs) latencies.push(now - m.ts);
        },
        close() {
          latencies.sort((a, b) => a - b);
          const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? 0;
          writeFileSync(output, JSON.stringify({ records, measured: latencies.length, firstArrival: first, lastArrival: last, p50: pct(0.5), p99: pct(0.99), max: latencies.at(-1) ?? 0 }));
        },
      };
    },
  };
}

export default (params: Params) =>
  pipeline('edge-to-cloud')
    .source(simulatedSensors({
      sensors: Array.from({ length: params.integer('sensors', 1) }, (_, i) => `s${i}`),
      count: params.integer('count'),
      intervalMs: params.number('intervalMs', 1),
      paced: params.string('paced', 'false') === 'true',
    }))
    .at('edge')
    .rebalance()
    .at('cloud')
    .sink(latencySink(params.string('output'), params.integer('warmupMs', 1000)));
