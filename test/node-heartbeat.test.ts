import test, { type ExecutionContext } from 'ava';
import { NodeAgent, cborDecoder, topics, type NodeHeartbeat, type NodeHello } from '@tributary/shared';
import { FakeClock } from './helpers/fake-clock.js';
import { plainClient, silent } from './helpers/mqtt.js';
import { startEmbeddedBroker } from '../cloud-core/src/broker/index.js';
import { tempDir } from './helpers/tmp.js';

/** A broker, a data dir, and a client playing the master that collects node `id`'s hello and heartbeats. */
async function observed(t: ExecutionContext, id: string) {
  const broker = await startEmbeddedBroker({ port: 0, log: silent });
  t.teardown(() => broker.close());
  const dir = await tempDir();
  t.teardown(dir.cleanup);
  const master = await plainClient(t, broker.url);
  const heartbeats: NodeHeartbeat[] = [];
  const waiting: Array<() => void> = [];
  const seen: { hello?: NodeHello } = {};
  master.on('message', (topic, payload) => {
    if (topic === topics.hello(id)) seen.hello = cborDecoder.decode(payload) as NodeHello;
    if (topic !== topics.heartbeat(id)) return;
    heartbeats.push(cborDecoder.decode(payload) as NodeHeartbeat);
    waiting.splice(0).forEach((w) => w());
  });
  await master.subscribeAsync([topics.heartbeat(id), topics.hello(id)], { qos: 1 });
  const received = async (n: number) => {
    while (heartbeats.length < n) await new Promise<void>((resolve) => waiting.push(resolve));
  };
  return { brokerUrl: broker.url, dataDir: dir.path, heartbeats, received, seen };
}

/**
 * The node host reads time only through its Clock: with a FakeClock, heartbeats go out exactly
 * when the test moves time past a period, and carry the clock's time. No sleeping: the test
 * awaits the messages themselves, which one MQTT connection delivers in order.
 */
test('a node sends its heartbeats on its clock, one per period, stamped with the clock\'s time', async (t) => {
  const { brokerUrl, dataDir, heartbeats, received, seen } = await observed(t, 'n-hb');

  const clock = new FakeClock();
  const start = clock.now();
  const heartbeatMs = 1000;
  const node = new NodeAgent({
    id: 'n-hb', kind: 'agent', labels: {}, slots: 1, brokerUrl, heartbeatMs, dataDir, logLevel: 'silent', log: silent, clock,
  });
  await node.start();
  t.teardown(() => node.stop());
  t.is(clock.pending, 1, 'one timer: the heartbeat');

  // Just short of a period nothing is due; the next millisecond sends the first heartbeat. Had
  // one gone out early, it would arrive first (same connection, in order) and carry an earlier time.
  clock.advance(heartbeatMs - 1);
  clock.advance(1);
  await received(1);
  t.deepEqual(heartbeats.map((h) => h.now), [start + heartbeatMs]);
  t.deepEqual(heartbeats[0].apps, {});

  // Three periods at once: three heartbeats, each stamped with its own due time.
  clock.advance(3 * heartbeatMs);
  await received(4);
  t.deepEqual(heartbeats.map((h) => h.now - start), [1, 2, 3, 4].map((k) => k * heartbeatMs));
  t.is(seen.hello?.now, start, 'the hello carries the clock\'s time too');

  await node.stop();
  t.is(clock.pending, 0, 'stopping cancels the heartbeat timer');
});

test('a node that hosts nothing beats at its idle period, declared in its hello', async (t) => {
  const { brokerUrl, dataDir, heartbeats, received, seen } = await observed(t, 'n-idle');
  const clock = new FakeClock();
  const start = clock.now();
  const node = new NodeAgent({
    id: 'n-idle', kind: 'agent', labels: {}, slots: 1, brokerUrl, heartbeatMs: 1000, idleHeartbeatMs: 10_000, dataDir, logLevel: 'silent', log: silent, clock,
  });
  await node.start();
  t.teardown(() => node.stop());
  // The first period sends one (nothing went out yet), then none until the idle period has passed.
  clock.advance(1000);
  await received(1);
  clock.advance(9000);
  clock.advance(1000);
  await received(2);
  t.deepEqual(heartbeats.map((h) => h.now - start), [1000, 11_000], 'one heartbeat per idle period, not one per second');
  t.is(seen.hello?.idleHeartbeatMs, 10_000, 'the hello tells the master how long it may stay quiet');
});
