/**
 * Application MQTT connectors on the fabric's broker (issue 13): without a URL they use the hosting
 * node's broker connection and a client id under the node's prefix; declaredAppTopics() lists the
 * application topics a plan's connectors read and write (the master's input for the broker ACL).
 */
import test from 'ava';
import { join } from 'node:path';
import { Params, createConnectors, declaredAppTopics, mqttSink, mqttSource, memorySink, pipeline, type Message, type SinkSpec } from '@tributary/shared';
import { connectorConnection, LOCAL_BROKER_URL } from '../shared/src/connectors/host-broker.js';
import { startEmbeddedBroker } from '../cloud-core/src/broker/index.js';
import { bundleAndPlan } from '../cli/src/bundle.js';
import { repoRoot } from './helpers/cli.js';
import { plainClient, silent } from './helpers/mqtt.js';

test("plant-monitor declares plant/windows (and its sink's markers); sources' filters are read, topic functions are dynamic, trib/ never listed", async (t) => {
  const { graph } = await bundleAndPlan(join(repoRoot, 'examples/plant-monitor.ts'), new Params({}));
  t.deepEqual(declaredAppTopics(graph), {
    read: ['tributary/sink-state/plant/windows/+'],
    write: ['plant/windows', 'tributary/sink-state/plant/windows/+'],
    dynamic: [],
  });

  const p = pipeline('topics');
  p.late(mqttSink({ topic: 'late/out', markerTopic: 'm/late' }));
  p.source(mqttSource({ topics: ['sensors/+', 'trib/x/y'] }))
    .map((r) => r)
    .sink(mqttSink<Record<string, unknown>>({ topic: (v) => `out/${String(v.kind)}` }));
  const declared = declaredAppTopics(p.compile());
  t.deepEqual(declared.read, ['m/late/+', 'sensors/+', 'tributary/sink-state/topic-fn/+']);
  t.deepEqual(declared.write, ['late/out', 'm/late/+', 'tributary/sink-state/topic-fn/+']);
  t.is(declared.dynamic.length, 1);
  t.deepEqual(declaredAppTopics(pipeline('none').source(mqttSource({ url: 'mqtt://example:1883', topics: 'a' })).sink(memorySink()).compile()).read, ['a']);
});

test("a connector without a URL takes the host's connection and a client id under the node's prefix; with one, nothing of the node's", (t) => {
  const host = { nodeId: 'w-1', connection: { url: 'mqtts://broker:8883', username: 'w-1', password: 's3cret', tls: { ca: 'CA' } } };
  const task = { role: 'sink' as const, app: 'plant-monitor', processor: 'mqtt(plant/windows)', taskIndex: 2 };
  const onHost = connectorConnection(undefined, undefined, host, task);
  t.is(onHost.url, 'mqtts://broker:8883');
  t.is(onHost.password, 's3cret');
  t.deepEqual(onHost.tls, { ca: 'CA' });
  t.regex(onHost.clientId, /^w-1\.plant-monitor\.sink-[0-9a-f]{8}-2$/);
  t.is(connectorConnection(undefined, undefined, host, task).clientId, onHost.clientId, 'stable: the same task gets the same id');
  t.not(connectorConnection(undefined, undefined, host, { ...task, taskIndex: 3 }).clientId, onHost.clientId);
  t.is(connectorConnection(undefined, 'mine', host, task).clientId, 'w-1.mine', 'a fixed client id goes under the prefix');
  t.is(connectorConnection(undefined, 'w-1.mine', host, task).clientId, 'w-1.mine');

  const external = connectorConnection('mqtt://elsewhere:1883', undefined, host, task);
  t.deepEqual(Object.keys(external).sort(), ['clientId', 'url'], 'no credentials of the node go to another broker');
  t.is(connectorConnection(undefined, undefined, undefined, task).url, LOCAL_BROKER_URL, '`tributary run`: the local broker');
});

test("an MQTT sink without a URL publishes on the host's broker as <nodeId>.…", async (t) => {
  const clients: string[] = [];
  const broker = await startEmbeddedBroker({ port: 0, log: silent, admit: (id) => (clients.push(id), true) });
  t.teardown(() => broker.close());
  const consumer = await plainClient(t, broker.url);
  await consumer.subscribeAsync('plant/windows', { qos: 1 });
  const received = new Promise<string>((resolve) => consumer.once('message', (_topic, payload) => resolve(payload.toString())));

  const connectors = createConnectors({ nodeId: 'w-1', connection: { url: broker.url } });
  const spec = mqttSink<{ avg: number }>({ topic: 'plant/windows', idField: false }) as SinkSpec<{ avg: number }>;
  const sink = connectors.sink(spec.connector!);
  await sink.open({ taskIndex: 0, parallelism: 1, log: silent, app: 'plant-monitor', processor: 'windows' });
  t.teardown(() => sink.close());
  const m: Message<{ avg: number }> = { key: 'k', value: { avg: 21.5 }, ts: 1 };
  await sink.write([m]);
  t.deepEqual(JSON.parse(await received), { avg: 21.5 });
  t.true(clients.some((id) => /^w-1\.plant-monitor\.sink-[0-9a-f]{8}-0$/.test(id)), clients.join(', '));
});
