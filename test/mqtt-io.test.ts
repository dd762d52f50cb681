import test, { type ExecutionContext } from 'ava';
import { Buffer } from 'node:buffer';
import type { MqttClient } from 'mqtt';
import {
  ErrorCodes,
  LocalRuntime,
  cborDecoder,
  cborEncoder,
  collectionSource,
  memorySink,
  pipeline,
  builtinConnectors,
  createSink,
  createSource,
  mqttSink,
  mqttSource,
  type Message,
  type MqttSource,
  type SourceContext,
} from '@tributary/shared';
import { plainClient, silent, testBroker, whenOpened } from './helpers/mqtt.js';
import { startEmbeddedBroker } from '../cloud-core/src/broker/index.js';
import { freePort } from './helpers/ports.js';


interface Reading {
  ts: number;
  device: string;
  temp: number;
}

/**
 * Subscribes `client` to `topic` and collects the decoded payloads. `settled()` publishes a
 * sentinel to the topic once the producer is done and resolves with everything received before
 * it: whatever the producer published (and had acknowledged) earlier, the broker forwarded first.
 */
async function collector<V>(client: MqttClient, topic: string, decode: (payload: Buffer) => V) {
  const received: V[] = [];
  let sentinelSeen!: () => void;
  const sentinel = new Promise<void>((resolve) => (sentinelSeen = resolve));
  const waiters: Array<{ n: number; resolve: () => void }> = [];
  client.on('message', (t, payload) => {
    if (t !== topic) return;
    if (payload.toString() === '__sentinel__') return sentinelSeen();
    received.push(decode(payload));
    for (const w of waiters.splice(0)) {
      if (received.length >= w.n) w.resolve();
      else waiters.push(w);
    }
  });
  await client.subscribeAsync(topic, { qos: 1 });
  return {
    received,
    /** Resolves when `n` results have arrived (an event, no polling). */
    count: (n: number) => (received.length >= n ? Promise.resolve() : new Promise<void>((resolve) => waiters.push({ n, resolve }))),
    settled: async (publisher: MqttClient) => {
      await publisher.publishAsync(topic, '__sentinel__', { qos: 1 });
      await sentinel;
      return received;
    },
  };
}

/** Strips the sink's result id `_id` (kept in `ids`), so results compare with their references. */
function withoutId<V>(ids: unknown[], v: V): V {
  const { _id, ...rest } = v as Record<string, unknown>;
  ids.push(_id);
  return rest as V;
}

const readings = (n: number, start = 1_700_000_000_000): Reading[] =>
  Array.from({ length: n }, (_, i) => ({ ts: start + i, device: `d${i % 5}`, temp: (i * 7) % 40 }));

const toFahrenheit = (r: Reading) => ({ ...r, tempF: (r.temp * 9) / 5 + 32 });

test('a pipeline from MQTT topics to an MQTT topic delivers every transformed reading exactly once', async (t) => {
  const url = await testBroker(t);
  const n = 500;
  const subscriber = await plainClient(t, url);
  const ids: unknown[] = [];
  const out = await collector(subscriber, 'out', (p) => withoutId(ids, JSON.parse(p.toString())));
  const { spec, opened } = whenOpened(mqttSource<Reading>({ url, topics: 'sensors/+', count: n, maxDelayMs: 0 }));
  const p = pipeline('x');
  p.source(spec).map(toFahrenheit).sink(mqttSink({ url, topic: 'out' }));
  const run = new LocalRuntime(p.compile(), { log: silent, connectors: builtinConnectors }).run();

  await opened; // SUBACK received: nothing published from here on is missed
  const publisher = await plainClient(t, url);
  const input = readings(n);
  await Promise.all(input.map((r) => publisher.publishAsync(`sensors/${r.device}`, JSON.stringify(r), { qos: 1 })));
  const summary = await run;
  await out.count(n);

  const received = await out.settled(publisher);
  t.is(received.length, n, 'exactly N results, no duplicates');
  t.deepEqual([...received].sort((a, b) => a.ts - b.ts), input.map(toFahrenheit));
  t.true(ids.every((id) => typeof id === 'string' && id.length === 16), 'every result carries an id');
  t.is(new Set(ids).size, n, 'distinct results, distinct ids');
  t.is(summary.rejected, 0);
  t.is(summary.processors[0].in, n);
});

test('CBOR payloads both ways, byte strings included', async (t) => {
  const url = await testBroker(t);
  const n = 200;
  const subscriber = await plainClient(t, url);
  const ids: unknown[] = [];
  const out = await collector(subscriber, 'out/cbor', (p) => withoutId(ids, cborDecoder.decode(p) as Record<string, unknown>));
  const { spec, opened } = whenOpened(mqttSource<Reading & { raw: Buffer }>({ url, topics: ['sensors/+/cbor'], format: 'cbor', count: n }));
  const p = pipeline('cbor');
  p.source(spec)
    .map((r) => ({ ...r, sum: r.raw.reduce((a, b) => a + b, 0) }))
    .sink(mqttSink({ url, topic: 'out/cbor', format: 'cbor' }));
  const run = new LocalRuntime(p.compile(), { log: silent, connectors: builtinConnectors }).run();

  await opened;
  const publisher = await plainClient(t, url);
  const input = readings(n).map((r, i) => ({ ...r, raw: Buffer.from([i & 0xff, 1, 2]), nested: { ok: true, list: [i, 'x'] } }));
  // One undecodable (truncated) payload: rejected, the rest unaffected.
  await publisher.publishAsync('sensors/bad/cbor', Buffer.from(cborEncoder.encode({ ts: 1, device: 'x'.repeat(20) })).subarray(0, 8), { qos: 1 });
  await Promise.all(input.map((r) => publisher.publishAsync(`sensors/${r.device}/cbor`, Buffer.from(cborEncoder.encode(r)), { qos: 1 })));
  const summary = await run;
  await out.count(n);

  const received = await out.settled(publisher);
  t.is(received.length, n);
  const expected = input.map((r) => ({ ...r, sum: r.raw[0] + 3 }));
  t.deepEqual([...received].sort((a, b) => (a.ts as number) - (b.ts as number)), expected);
  t.true(Buffer.isBuffer(received[0].raw), 'a byte string stays a byte string');
  t.is(new Set(ids).size, n, 'CBOR results carry an id too');
  t.is(summary.rejected, 1);
});

test('malformed payloads are rejected and counted; the good ones still arrive', async (t) => {
  const url = await testBroker(t);
  const subscriber = await plainClient(t, url);
  const out = await collector(subscriber, 'clean', (p) => withoutId([], JSON.parse(p.toString()) as Reading));
  const { spec, opened } = whenOpened(
    mqttSource<Reading>({
      url,
      topics: 'devices/#',
      count: 5,
      validate: (r) => (r.temp < -100 ? `implausible temperature ${r.temp}` : undefined),
    }),
  );
  const p = pipeline('malformed');
  p.source(spec).filter(() => true).sink(mqttSink({ url, topic: 'clean' }));
  const run = new LocalRuntime(p.compile(), { log: silent, connectors: builtinConnectors }).run();

  await opened;
  const publisher = await plainClient(t, url);
  const good = readings(5);
  const sequence: Array<string | Buffer> = [
    JSON.stringify(good[0]),
    'not json {',
    JSON.stringify(good[1]),
    JSON.stringify({ device: 'd1', temp: 20 }), // no ts
    JSON.stringify(good[2]),
    JSON.stringify({ ts: 1.5, device: 'd1', temp: 20 }), // not an integer
    JSON.stringify({ ts: '1700000000000', device: 'd1', temp: 20 }), // a string
    Buffer.alloc(0), // empty
    JSON.stringify(good[3]),
    JSON.stringify({ ts: 1_700_000_000_100, device: 'd1', temp: -999 }), // fails validate
    '42', // valid JSON, not a record with a timestamp
    JSON.stringify(good[4]),
  ];
  // In order, one at a time: the five good ones end the source, so every bad one comes first.
  for (const payload of sequence) await publisher.publishAsync('devices/a/b', payload, { qos: 1 });
  const summary = await run;
  await out.count(5);

  const received = await out.settled(publisher);
  t.deepEqual(received, good);
  t.is(summary.rejected, 7);
});

test('the sink rejects with SINK_FAILED, naming the URL, when no broker listens', async (t) => {
  const url = `mqtt://127.0.0.1:${await freePort()}`;
  const sink = createSink(mqttSink({ url, topic: 'out' }), builtinConnectors);
  const err = await t.throwsAsync(Promise.resolve(sink.open({ taskIndex: 0, parallelism: 1, log: silent })));
  t.is((err as { code?: unknown }).code, ErrorCodes.SINK_FAILED);
  t.true(err!.message.includes(url), err!.message);

  // The same through the runtime: run() rejects with the sink's code.
  const p = pipeline('dead-sink');
  p.source(collectionSource([{ ts: 1, value: 1 }])).sink(mqttSink({ url, topic: 'out' }));
  const runErr = await t.throwsAsync(new LocalRuntime(p.compile(), { log: silent, connectors: builtinConnectors }).run());
  t.is((runErr as { code?: unknown }).code, ErrorCodes.SINK_FAILED);
});

test('the source fails to open with SOURCE_FAILED when no broker listens', async (t) => {
  const url = `mqtt://127.0.0.1:${await freePort()}`;
  const source = createSource(mqttSource({ url, topics: 'a/#' }), builtinConnectors);
  const err = await t.throwsAsync(Promise.resolve(source.open(fakeContext())));
  t.is((err as { code?: unknown }).code, ErrorCodes.SOURCE_FAILED);
  t.true(err!.message.includes(url), err!.message);
});

test('the topic is the message key, and with topicField part of the value; timestamp functions see it', async (t) => {
  const url = await testBroker(t);
  const sink = memorySink<{ t: number; topic?: string }>();
  const topicsSeen: string[] = [];
  const { spec, opened } = whenOpened(
    mqttSource<{ t: number; topic?: string }>({
      url,
      topics: ['plant/+/temp'],
      count: 3,
      topicField: 'topic',
      timestamp: (r, topic) => {
        topicsSeen.push(topic);
        return r.t;
      },
    }),
  );
  const p = pipeline('keys');
  p.source(spec).sink(sink);
  const run = new LocalRuntime(p.compile(), { log: silent, connectors: builtinConnectors }).run();
  await opened;
  const publisher = await plainClient(t, url);
  for (const [i, line] of ['l1', 'l2', 'l3'].entries()) await publisher.publishAsync(`plant/${line}/temp`, JSON.stringify({ t: 10 + i }), { qos: 1 });
  await run;
  const expectedTopics = ['plant/l1/temp', 'plant/l2/temp', 'plant/l3/temp'];
  t.deepEqual(sink.messages.map((m) => m.key), expectedTopics);
  t.deepEqual(sink.values(), expectedTopics.map((topic, i) => ({ t: 10 + i, topic })));
  t.deepEqual(sink.messages.map((m) => m.ts), [10, 11, 12]);
  t.deepEqual(topicsSeen, expectedTopics);
});

function fakeContext(rejected: string[] = []): SourceContext {
  return { taskIndex: 0, parallelism: 1, log: silent, nodeId: 'test', nodeLabels: {}, reject: (reason) => void rejected.push(reason) };
}

test("'ingest' timestamps with the arrival time; an idle read returns an empty batch after maxWaitMs", async (t) => {
  const url = await testBroker(t);
  const source = createSource(mqttSource<number>({ url, topics: 'raw', timestamp: 'ingest', maxWaitMs: 50 }), builtinConnectors);
  await source.open(fakeContext());
  t.teardown(() => source.close());
  t.deepEqual(await source.read(10), [], 'nothing published: an empty batch, not a hang');
  const publisher = await plainClient(t, url);
  const before = Date.now();
  await publisher.publishAsync('raw', '21.5', { qos: 1 });
  let batch: Message<number>[] | null = [];
  while (batch && batch.length === 0) batch = await source.read(10);
  t.is(batch!.length, 1);
  t.is(batch![0].value, 21.5);
  t.true(batch![0].ts >= before && batch![0].ts <= Date.now());
});

test('back-pressure: a full buffer stops reading from the broker, which stops acknowledging the publisher; nothing is lost', async (t) => {
  const broker = await startEmbeddedBroker({ port: 0, log: silent });
  t.teardown(() => broker.close());
  const url = broker.url;
  const n = 20_000;
  const maxBuffered = 100;
  // keepalive 3 s and a stall of 6 s: without its own pings while paused, mqtt.js would drop the
  // connection after 4.5 s ("Keepalive timeout") and, with a clean session, lose what the broker
  // had in flight. (1 s, then 2 s, were too tight: on a loaded machine a process stall of 1.5–3 s
  // made the broker time the client out, and the test failed for records lost with the session.)
  const clientId = 'paused-source';
  const spec = mqttSource<{ ts: number; i: number; pad: string }>({ url, clientId, topics: 'load', count: n, maxBuffered, keepaliveSeconds: 3, maxWaitMs: 100 });
  const source = createSource(spec, builtinConnectors) as MqttSource<{ ts: number; i: number; pad: string }>;
  const rejected: string[] = [];
  await source.open(fakeContext(rejected));
  t.teardown(() => source.close());
  // A lost connection (a clean session: messages lost) ends the test with a failure, not a hang.
  let lost = false;
  let onLost = () => {};
  t.teardown(broker.on('clientDisconnect', (id) => id === clientId && ((lost = true), onLost())));

  const publisher = await plainClient(t, url);
  let acked = 0;
  const pad = 'x'.repeat(1000); // 20 MB in all: more than the socket buffers on the way can hold
  const published = Promise.all(
    Array.from({ length: n }, (_, i) => publisher.publishAsync('load', JSON.stringify({ ts: i, i, pad }), { qos: 1 }).then(() => void acked++)),
  );

  // Nobody reads: the buffer fills to exactly maxBuffered and the source holds there (each turn
  // of the event loop lets mqtt.js process what arrived).
  while (!source.stats().paused) await new Promise((resolve) => setImmediate(resolve));
  // It stays paused past 1.5 × keepalive: the broker sees the source's own PINGREQs (every 1.5 s,
  // plus perhaps one sent just before the pause: the 5th comes at least 6 s into it) and never a
  // disconnect. Events, not a fixed wait.
  let pings = 0;
  const outcome = await new Promise<string>((resolve) => {
    onLost = () => resolve(`disconnected after ${pings} pings`);
    if (lost) onLost();
    t.teardown(broker.on('ping', (id) => id === clientId && ++pings === 5 && resolve('5 pings')));
  });
  t.is(outcome, '5 pings', 'the paused source kept its connection');
  const stalled = source.stats();
  t.is(stalled.buffered, maxBuffered);
  t.true(stalled.paused);
  t.is(stalled.pauses, 1);
  const ackedWhileStalled = acked;
  t.true(ackedWhileStalled < n, `the publisher was slowed down (${ackedWhileStalled} of ${n} acknowledged)`);

  // Read slowly (a turn of the event loop per batch): the buffer never exceeds its bound.
  const ids: number[] = [];
  for (let batch = await source.read(64); batch !== null && !lost; batch = await source.read(64)) {
    for (const m of batch) ids.push(m.value.i);
    t.true(source.stats().buffered <= maxBuffered);
    await new Promise((resolve) => setImmediate(resolve));
  }
  t.false(lost, 'the source never lost its connection');
  await published;
  t.is(ids.length, n);
  t.true(ids.every((id, i) => id === i), 'every message once, in order');
  t.true(source.stats().peakBuffered <= maxBuffered);
  t.true(source.stats().pauses >= 1);
  t.deepEqual(rejected, []);
});

test('close() while paused ends promptly and read() then reports the end', async (t) => {
  const url = await testBroker(t);
  const source = createSource(mqttSource<{ ts: number }>({ url, topics: 'p', maxBuffered: 5 }), builtinConnectors) as MqttSource<{ ts: number }>;
  await source.open(fakeContext());
  const publisher = await plainClient(t, url);
  const pubs = Array.from({ length: 50 }, (_, i) => publisher.publishAsync('p', JSON.stringify({ ts: i }), { qos: 1 }));
  let first: Message<{ ts: number }>[] | null = [];
  while (first && first.length === 0) first = await source.read(1);
  t.is(first!.length, 1);
  // Wait (by events, not time) for the buffer to fill up again to its bound.
  while (!source.stats().paused) await new Promise((resolve) => setImmediate(resolve));
  await source.close();
  t.is(await source.read(10), null);
  void Promise.allSettled(pubs);
});
