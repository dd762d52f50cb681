/**
 * The application the edge-to-cloud benchmarks submit (and run in local mode): a fleet of
 * simulated devices on the agent (bench/apps/devices.ts), a hop through the broker, and in the
 * cloud either
 *  - windowMs > 0 (throughput): keyBy(device) -> tumbling window of windowMs -> span aggregate
 *    (count, first and last event time) -> a sink counting the records the windows hold;
 *  - windowMs = 0 (latency): a plausibility filter on the edge, then a sink that measures every
 *    record's arrival time minus its event time (a window would hold records back by its size).
 * The sink writes its figures to `output` when the input ends (bench/apps/figures.ts).
 */
import { pipeline, tumbling, type Params } from 'tributary';
import { deviceSource, loadFromParams } from './devices.js';
import { recordFiguresSink, span, windowFiguresSink } from './figures.js';

export default (params: Params) => {
  const output = params.string('output');
  const windowMs = params.integer('windowMs', 1000);
  const readings = pipeline(params.string('name', 'edge-to-cloud'))
    .source(deviceSource(loadFromParams(params)))
    .at('edge');
  if (windowMs > 0) {
    return readings
      .keyBy((r) => r.device)
      .window(tumbling(windowMs))
      .aggregate(span())
      .at('cloud')
      .sink(windowFiguresSink(output));
  }
  return readings
    .filter((r) => r.value > -40 && r.value < 85)
    .rebalance()
    .at('cloud')
    .sink(recordFiguresSink(output, params.integer('warmupMs', 1000)));
};
