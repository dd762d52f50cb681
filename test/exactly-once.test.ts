import test from 'ava';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { decodeFrame, encodeFrame } from '@tributary/shared';
import { startEmbeddedBroker, type EmbeddedBroker } from '../cloud-core/src/broker/embedded-broker.js';
import { until } from './helpers/cluster.js';
import { compareWithReference as compare, plantApp as app, plantCluster as cluster, submitPlantMonitor as submit, untilFinished } from './helpers/plant-cluster.js';

const params = (output: string): Record<string, string> => ({ count: '60000', startTs: '0', intervalMs: '10', windowMs: '1000', seed: '5', output });

test.serial('a worker SIGKILLed mid-run: the application recovers from its checkpoint and the results are exactly the failure-free ones', async (t) => {
  const c = await cluster(t);
  const p = params(join(c.dir, 'windows.jsonl'));
  await submit(c, p);
  // Once a checkpoint is complete, kill the worker running the windows.
  const running = await until('a complete checkpoint', async () => {
    const a = await app(c);
    return a.checkpoint !== null && a.checkpoint !== undefined && a.state === 'running' ? a : undefined;
  });
  const victim = running.tasks.find((x: { processor: number }) => x.processor === 1).node as string;
  c.nodes.get(victim)!.child.kill('SIGKILL');
  const done = await untilFinished(c);
  t.true(done.epoch > running.epoch, 'a recovery bumped the epoch');
  t.regex(done.recovery.reason, new RegExp(`worker ${victim} went offline`));
  t.false(done.tasks.some((x: { node: string }) => x.node === victim), 'its tasks moved to the surviving worker');
  await compare(t, p.output, p);
});

test.serial('a frame dropped on the wire is detected and replayed; frames of the old epoch are then fenced off', async (t) => {
  // A broker that loses the 30th frame carrying records on its way to a worker, once.
  let dataFrames = 0;
  const broker: EmbeddedBroker = await startEmbeddedBroker({
    port: 0,
    forward: (topic, _client, payload) => !(topic.includes('/data/w-') && decodeFrame(payload).messages.length > 0 && ++dataFrames === 30),
  });
  t.teardown(() => broker.close());
  const c = await cluster(t, ['--broker', broker.url]);
  const p = params(join(c.dir, 'windows.jsonl'));
  await submit(c, p);
  const done = await untilFinished(c);
  t.true(dataFrames >= 30, 'the frame was dropped');
  t.is(done.epoch, 2, 'one recovery');
  t.regex(done.recovery.reason, /frames lost/);
  await compare(t, p.output, p);

  // A zombie from epoch 1 sends a frame to the window task: fenced off, counted.
  const window = done.tasks.find((x: { processor: number }) => x.processor === 1);
  const before = (await app(c)).nodes[window.node].wire.framesFenced ?? 0;
  const client = await mqtt.connectAsync(broker.url, { clientId: 'dev-1-zombie' });
  t.teardown(() => client.endAsync());
  const frame = encodeFrame({ app: 'plant-monitor', epoch: 1, sender: 0, firstSeq: 999, clock: 0, messages: [{ ts: 1, value: { ts: 1, device: 'dev-1', sensor: 'temperature', value: 1 } }] });
  await client.publishAsync(`trib/dev-1/data/${window.node}/plant-monitor/${65_536 + window.index}`, Buffer.from(frame), { qos: 1 });
  await until('the zombie frame to be fenced', async () => {
    const n = (await app(c)).nodes[window.node].wire.framesFenced ?? 0;
    return n > before ? n : undefined;
  });
  await compare(t, p.output, p);
});
