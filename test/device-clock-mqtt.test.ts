import test from 'ava';
import { LocalRuntime, builtinConnectors, memorySink, mqttSource, pipeline, tumbling } from '@tributary/shared';
import { plainClient, silent, testBroker, whenOpened } from './helpers/mqtt.js';

interface Reading {
  ts: number;
  device: string;
  temp: number;
}

const PER_DEVICE = 2000;
const START = 1_700_000_000_000;

/**
 * The reproduction: three devices publish their own readings, each in event-time order, as
 * JSON to sensors/<device>/temp, into one mqttSource with maxDelayMs 0 and a 1 s tumbling count
 * per device. With one clock for the source their interleaving made most readings late; with a
 * clock per device (the topic, by default) none is.
 */
test('three devices publishing in order, interleaved, into one mqttSource with maxDelayMs 0: 0 late readings', async (t) => {
  const url = await testBroker(t);
  const counts = memorySink<{ key: string; start: number; value: number }>();
  const late = memorySink<Reading>('late');
  const { spec, opened } = whenOpened(mqttSource<Reading>({ url, topics: 'sensors/+/temp', count: 3 * PER_DEVICE, maxDelayMs: 0 }));
  const p = pipeline('three-devices').late(late);
  const arrival: number[] = [];
  p.source(spec)
    .map((r) => {
      arrival.push(r.ts);
      return r;
    })
    .keyBy((r) => r.device)
    .window(tumbling(1000))
    .count()
    .sink(counts);
  const run = new LocalRuntime(p.compile(), { log: silent, connectors: builtinConnectors }).run();
  await opened;

  const devices = ['dev-a', 'dev-b', 'dev-c'];
  const clients = await Promise.all(devices.map(() => plainClient(t, url)));
  // Each its own pace in event time (a reading every 5, 3 and 8 ms): in the interleaving, the
  // newest reading of one device is far ahead of the others'.
  const stepMs = [5, 3, 8];
  const reading = (d: number, i: number): Reading => ({ ts: START + i * stepMs[d], device: devices[d], temp: (i * 7 + d) % 40 });
  const send = (d: number, i: number) => clients[d].publishAsync(`sensors/${devices[d]}/temp`, JSON.stringify(reading(d, i)), { qos: 1 });
  // Each device's first reading is acknowledged before any device goes on, so every device is
  // known before another one passes its start (a device first seen later starts behind the clock).
  await Promise.all(devices.map((_, d) => send(d, 0)));
  // Then each publishes the rest in its own order, concurrently: the broker interleaves them.
  await Promise.all(
    devices.map(async (_, d) => {
      for (let i = 1; i < PER_DEVICE; i++) await send(d, i);
    }),
  );
  const summary = await run;

  t.is(late.messages.length, 0, 'no reading is late');
  t.is(summary.processors[0].late, 0);
  t.is(summary.processors[0].in, 3 * PER_DEVICE);
  // What one clock for the source (newest seen minus 0) would have made of the same arrival order.
  let newest = -Infinity;
  const lateWithOneClock = arrival.filter((ts) => {
    const isLate = ts < newest;
    newest = Math.max(newest, ts);
    return isLate;
  }).length;
  t.log(`one clock would have made ${lateWithOneClock} of ${arrival.length} readings late`);
  t.true(lateWithOneClock > 1000, `${lateWithOneClock}`);
  const total = counts.values().reduce((n, c) => n + c.value, 0);
  t.is(total, 3 * PER_DEVICE, 'every reading counted in its window');
  devices.forEach((d, i) => {
    const windows = counts.values().filter((c) => c.key === d);
    t.is(windows.length, Math.ceil((PER_DEVICE * stepMs[i]) / 1000), `${d}: its windows of 1 s`);
  });
});
