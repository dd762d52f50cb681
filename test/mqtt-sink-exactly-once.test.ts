import test, { type ExecutionContext } from 'ava';
import mqtt, { type MqttClient } from 'mqtt';
import { builtinConnectors, createSink, mqttSink, type Message, type MqttSinkOptions, type Sink, type SinkContext, type SinkSpec, type TaskContext } from '@tributary/shared';
import { sinkOperator } from '../shared/src/api/operators/sink-operator.js';
import { plainClient, silent, testBroker } from './helpers/mqtt.js';
import { startMosquitto } from './helpers/mosquitto.js';

const RESULTS = 'results/eo';
const MARKER = `tributary/sink-state/${RESULTS}/0`;

interface Result {
  ts: number;
  v: string;
}

/**
 * A consumer of `topic` (QoS 1). settled() publishes a sentinel to the topic and resolves with
 * everything received before it: whatever the sink published and had acknowledged earlier, the
 * broker forwarded first. So "exactly these" is checked by an event, not by sleeping.
 */
async function consumer(client: MqttClient, topic: string) {
  const received: string[] = [];
  /** The result ids (`_id`), in arrival order; `received` holds the payloads without them. */
  const ids: string[] = [];
  const sentinels = new Map<string, () => void>();
  client.on('message', (tp, payload) => {
    if (tp !== topic) return;
    const text = payload.toString();
    const seen = sentinels.get(text);
    if (seen) return seen();
    const v = JSON.parse(text) as Record<string, unknown>;
    if (v !== null && typeof v === 'object' && '_id' in v) {
      ids.push(v._id as string);
      delete v._id;
    }
    received.push(JSON.stringify(v));
  });
  await client.subscribeAsync(topic, { qos: 1 });
  let round = 0;
  return {
    received,
    ids,
    settled: async (): Promise<string[]> => {
      const sentinel = `__sentinel_${round++}__`;
      const seen = new Promise<void>((resolve) => sentinels.set(sentinel, resolve));
      await client.publishAsync(topic, sentinel, { qos: 1 });
      await seen;
      return [...received];
    },
  };
}

/** The retained message of `topic` right now, or null (a fence message of our own says "none"). */
async function retained(url: string, topic: string): Promise<string | null> {
  const client = await mqtt.connectAsync(url, { protocolVersion: 4, reconnectPeriod: 0 });
  try {
    const fence = `probe-${Math.random()}`;
    const got = new Promise<string | null>((resolve) => {
      client.on('message', (tp, payload, packet) => {
        if (tp !== topic) return;
        if (packet.retain) resolve(payload.toString());
        else if (payload.toString() === fence) resolve(null);
      });
    });
    await client.subscribeAsync(topic, { qos: 1 });
    await client.publishAsync(topic, fence, { qos: 1 });
    return await got;
  } finally {
    await client.endAsync(true);
  }
}

type MarkerEntry = [id: string, ts: number, w: number | null, n: number];

async function markerEntries(url: string, topic = MARKER): Promise<MarkerEntry[]> {
  const text = await retained(url, topic);
  if (text === null) throw new Error(`no retained marker on ${topic}`);
  const marker = JSON.parse(text) as { v: number; e: MarkerEntry[] };
  return marker.e;
}

function ctx(exactlyOnce: boolean, resume: boolean, taskIndex = 0): SinkContext {
  return { taskIndex, parallelism: 1, log: silent, exactlyOnce, resume };
}

async function openSink(t: ExecutionContext, options: MqttSinkOptions<Result>, context: SinkContext): Promise<Sink<Result>> {
  const sink = createSink(mqttSink<Result>(options), builtinConnectors);
  await sink.open(context);
  t.teardown(() => sink.close());
  return sink;
}

const results = (from: number, to: number, tag = 'r'): Message<Result>[] =>
  Array.from({ length: to - from }, (_, i) => ({ ts: from + i, value: { ts: from + i, v: `${tag}${from + i}` } }));
const texts = (batch: readonly Message<Result>[]) => batch.map((m) => JSON.stringify(m.value));
const sorted = (xs: readonly string[]) => [...xs].sort();

test('a recovery replays overlapping results: the consumer sees each exactly once, identical results included', async (t) => {
  const url = await testBroker(t);
  const out = await consumer(await plainClient(t, url), RESULTS);

  // First run: two batches, one of them with two identical results (same topic, ts and value).
  const first = await openSink(t, { url, topic: RESULTS }, ctx(true, false));
  const twin: Message<Result> = { ts: 104, value: { ts: 104, v: 'twin' } };
  const batch1 = [...results(100, 105), twin, twin];
  const batch2 = results(105, 110);
  await first.write(batch1);
  await first.write(batch2);
  await first.close(); // the task dies here

  t.deepEqual(sorted(await out.settled()), sorted([...texts(batch1), ...texts(batch2)]));
  t.is((await markerEntries(url)).length, 11, 'one marker entry per distinct result (the twin counted twice)');

  // Recovery from an earlier checkpoint: the replay re-emits 102..109 and the twins, then new ones.
  const second = await openSink(t, { url, topic: RESULTS }, ctx(true, true));
  await second.write([...results(102, 105), twin, twin, ...results(105, 108)]);
  const fresh = [...results(108, 110), ...results(110, 113)];
  // 108 and 109 are replays too, mixed with new results in one batch.
  await second.write(fresh);

  const all = await out.settled();
  t.deepEqual(sorted(all), sorted([...texts(batch1), ...texts(batch2), ...texts(results(110, 113))]), 'no duplicate, nothing lost');
  t.is(all.filter((x) => x.includes('twin')).length, 2, 'both identical results, once each');
  t.is((await markerEntries(url)).length, 14, 'the new results joined the marker');

  // A second failure right away: the replay is skipped again, the new results too.
  await second.close();
  const third = await openSink(t, { url, topic: RESULTS }, ctx(true, true));
  await third.write([...results(100, 113)]);
  t.is((await out.settled()).length, all.length, 'a second recovery shows nothing again');
});

test('checkpoint(t) prunes what no replay can re-emit; a recovery after pruning still sees no duplicate', async (t) => {
  const url = await testBroker(t);
  const out = await consumer(await plainClient(t, url), RESULTS);
  const sink = await openSink(t, { url, topic: RESULTS }, ctx(true, false));

  await sink.write(results(0, 10));
  await sink.checkpoint!(10);
  t.is((await markerEntries(url)).length, 10, 'checkpoint 10 is not complete yet: nothing is dropped');

  const late: Message<Result> = { ts: 5, value: { ts: 5, v: 'late' } };
  await sink.write([...results(10, 20), late]);
  await sink.checkpoint!(20);
  t.is((await markerEntries(url)).length, 21, 'the sink snapshotted 20, but no checkpoint is complete: still nothing dropped');
  sink.checkpointComplete!(10);
  await sink.checkpoint!(30);
  const afterTwenty = await markerEntries(url);
  t.deepEqual(afterTwenty.map((e) => e[1]).sort((a, b) => a - b), [5, ...Array.from({ length: 10 }, (_, i) => 10 + i)],
    'results before 10 are gone; a late one written after the snapshot at 10 stays');

  // The task dies; the application restarts from checkpoint 10: 10..19 and the late one come again.
  await sink.close();
  const recovered = await openSink(t, { url, topic: RESULTS }, ctx(true, true));
  await recovered.write([...results(10, 15), late]);
  await recovered.write(results(15, 23));
  const all = await out.settled();
  t.deepEqual(sorted(all), sorted([...texts(results(0, 23)), JSON.stringify(late.value)]));

  await recovered.checkpoint!(20);
  recovered.checkpointComplete!(20);
  await recovered.checkpoint!(30);
  t.deepEqual((await markerEntries(url)).map((e) => e[1]), [20, 21, 22], 'everything before 20 is pruned');
});

test('a first run resets an old marker, and a recovery with no marker on the broker publishes everything', async (t) => {
  const url = await testBroker(t);
  const out = await consumer(await plainClient(t, url), RESULTS);
  const first = await openSink(t, { url, topic: RESULTS, markerTopic: 'tributary/sink-state/app-a' }, ctx(true, false));
  await first.write(results(0, 5));
  await first.close();

  // A new submission (no resume): the same results are new output, published again.
  const again = await openSink(t, { url, topic: RESULTS, markerTopic: 'tributary/sink-state/app-a' }, ctx(true, false));
  t.deepEqual(await markerEntries(url, 'tributary/sink-state/app-a/0'), [], 'the marker starts empty');
  await again.write(results(0, 5));
  t.is((await out.settled()).length, 10);

  // Resuming where no marker exists (another task index here): the fence answers "none" at once.
  const other = await openSink(t, { url, topic: RESULTS, markerTopic: 'tributary/sink-state/app-a', connectTimeoutMs: 60_000 }, ctx(true, true, 3));
  await other.write(results(0, 2));
  t.is((await out.settled()).length, 12);
  t.is((await markerEntries(url, 'tributary/sink-state/app-a/3')).length, 2);
});

test('without exactly-once the sink publishes plainly: no marker, repeats pass through', async (t) => {
  const url = await testBroker(t);
  const out = await consumer(await plainClient(t, url), RESULTS);
  const sink = await openSink(t, { url, topic: RESULTS }, ctx(false, true));
  await sink.write(results(0, 3));
  await sink.write(results(0, 3));
  await sink.checkpoint?.(10);
  t.deepEqual(sorted(await out.settled()), sorted([...texts(results(0, 3)), ...texts(results(0, 3))]));
  t.is(await retained(url, MARKER), null, 'no marker published');
});

test('against Mosquitto: the marker is read back on a recovery, and "no marker" is concluded', async (t) => {
  const broker = await startMosquitto();
  t.teardown(() => broker.stop());
  const url = broker.url;
  const out = await consumer(await plainClient(t, url), RESULTS);
  const first = await openSink(t, { url, topic: RESULTS }, ctx(true, false));
  await first.write(results(0, 6));
  await first.close();
  const second = await openSink(t, { url, topic: RESULTS }, ctx(true, true));
  await second.write(results(3, 9));
  t.deepEqual(sorted(await out.settled()), sorted(texts(results(0, 9))));

  const empty = await openSink(t, { url, topic: RESULTS, connectTimeoutMs: 60_000 }, ctx(true, true, 1));
  await empty.write(results(0, 1));
  t.is((await out.settled()).length, 10);
});

test('the sink operator hands a checkpoint to the sink once the batch holding it is written, and passes on completions', async (t) => {
  const calls: string[] = [];
  const spec: SinkSpec = {
    kind: 'sink',
    name: 'recording',
    maxParallelism: 1,
    create: () => ({
      open: () => undefined,
      write: async (batch) => {
        await Promise.resolve();
        calls.push(`write ${batch.length}`);
      },
      checkpoint: (cp) => {
        calls.push(`checkpoint ${cp}`);
      },
      checkpointComplete: (cp) => {
        calls.push(`complete ${cp}`);
      },
      close: () => undefined,
    }),
  };
  const taskCtx = { taskId: { processor: 1, index: 0 }, parallelism: 1, log: silent, checkpointIntervalMs: 10 } as unknown as TaskContext;
  const op = sinkOperator(spec)(() => undefined, taskCtx);
  op.push({ ts: 1, value: 1 });
  op.push({ ts: 12, value: 2 });
  t.is(op.snapshot!(10), undefined, 'the sink operator holds no state');
  await op.onBatchEnd!();
  op.snapshot!(20);
  await op.onBatchEnd!();
  op.checkpointComplete!(10);
  op.push({ ts: 21, value: 3 });
  await op.onBatchEnd!();
  t.deepEqual(calls, ['write 2', 'checkpoint 10', 'checkpoint 20', 'complete 10', 'write 1']);
});

test('result ids: the residual window (results acknowledged, marker not) shows a result again with the same _id, so a consumer drops it', async (t) => {
  const url = await testBroker(t);
  const out = await consumer(await plainClient(t, url), RESULTS);
  const app = (resume: boolean): SinkContext => ({ ...ctx(true, resume), app: 'plant', processor: 'windows' });
  const twin: Message<Result> = { ts: 4, key: 'k', value: { ts: 4, v: 'twin' } };
  const batch1 = [...results(0, 4), twin];
  const batch2 = [twin, ...results(5, 8)];

  const first = await openSink(t, { url, topic: RESULTS }, app(false));
  await first.write(batch1);
  const markerAfterBatch1 = await retained(url, MARKER);
  await first.write(batch2);
  await first.close();
  // The crash came after batch2's PUBACKs and before its marker: the broker keeps batch1's.
  const setter = await plainClient(t, url);
  await setter.publishAsync(MARKER, markerAfterBatch1!, { qos: 1, retain: true });

  const second = await openSink(t, { url, topic: RESULTS }, app(true));
  await second.write(batch1); // replayed: skipped by the marker
  await second.write(batch2); // replayed: not in the marker, published again
  const all = await out.settled();
  t.is(all.length, 5 + 4 + 4, 'batch2 was seen twice');
  // A consumer keeping the ids it has seen drops exactly the redelivered ones.
  const firstSeen = new Map<string, string>();
  out.ids.forEach((id, i) => firstSeen.has(id) || firstSeen.set(id, all[i]));
  t.is(firstSeen.size, 9, 'by _id: each result once');
  t.deepEqual(sorted([...firstSeen.values()]), sorted([...texts(batch1), ...texts(batch2)]));
  t.is(out.ids.slice(0, 9).filter((id, i, xs) => xs.indexOf(id) !== i).length, 0, 'the two identical twins have distinct ids');
  t.deepEqual(out.ids.slice(9), out.ids.slice(5, 9), 'the redelivered batch carries the ids it had');
});

test('result ids depend on the application and processor; idField names the field, false leaves the payload alone', async (t) => {
  const url = await testBroker(t);
  const out = await consumer(await plainClient(t, url), RESULTS);
  const r = results(0, 1);
  for (const app of ['a', 'a', 'b']) {
    const sink = await openSink(t, { url, topic: RESULTS }, { ...ctx(false, false), app, processor: 'p' });
    await sink.write(r);
  }
  const plain = await openSink(t, { url, topic: RESULTS, idField: false }, ctx(false, false));
  await plain.write(r);
  const named = await openSink(t, { url, topic: RESULTS, idField: 'resultId' }, ctx(false, false));
  await named.write(r);
  const all = await out.settled();
  t.is(out.ids.length, 3);
  t.is(out.ids[0], out.ids[1], 'same application, processor, key, ts and content: same id');
  t.not(out.ids[0], out.ids[2], 'another application: another id');
  t.is(all[3], JSON.stringify(r[0].value), 'idField false: the value as it is');
  const withName = JSON.parse(all[4]) as Record<string, unknown>;
  t.is(typeof withName.resultId, 'string');
  t.throws(() => mqttSink({ url, topic: RESULTS, idField: '' }), { instanceOf: TypeError });
});
