/**
 * Readings published to MQTT (`topic`, JSON `{ ts, n }`) ingested on the edge and written to a
 * file in the cloud, with nothing in between that holds them back: the test of a frame lost just
 * before the channel falls silent (test/store-and-forward.test.ts).
 */
import { jsonLinesSink, mqttSource, pipeline, type Params } from 'tributary';

export default (params: Params) =>
  pipeline('idle-tail')
    .source(mqttSource<{ ts: number; n: number }>({ url: params.string('broker'), topics: params.string('topic', 'idle-tail/in'), maxDelayMs: 0 }))
    .at('edge')
    .map((r) => ({ n: r.n }))
    .at('cloud')
    .sink(jsonLinesSink(params.string('output')));
