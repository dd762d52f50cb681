/**
 * The fault hooks of the in-memory broker (the Transport contract itself is checked by the
 * conformance suite in transport.test.ts): drop, duplicate and hold back (reorder) deliveries.
 */
import test from 'ava';
import { MemoryBroker, type Fault, type Transport } from '@tributary/shared';

/** Resolves with the texts `transport` received once it has `n` of them. */
function receive(transport: Transport, n: number): Promise<string[]> {
  const got: string[] = [];
  return new Promise((resolve) => {
    transport.onMessage((_topic, payload) => {
      got.push(payload.toString());
      if (got.length === n) resolve(got);
    });
  });
}

async function pair(faults: (text: string) => Fault) {
  const broker = new MemoryBroker();
  broker.faults = (d) => faults(d.payload.toString());
  const pub = await broker.connect({ clientId: 'pub' });
  const sub = await broker.connect({ clientId: 'sub' });
  await sub.subscribe('t/#');
  return { broker, pub, sub };
}

test('drop: the delivery never happens, and is counted', async (t) => {
  const { broker, pub, sub } = await pair((m) => (m === '2' ? 'drop' : 'deliver'));
  const got = receive(sub, 2);
  for (const m of ['1', '2', '3']) await pub.publish('t/x', m, { qos: 1 });
  t.deepEqual(await got, ['1', '3']);
  t.is(broker.stats.dropped, 1);
});

test('duplicate: the delivery happens twice, in place', async (t) => {
  const { broker, pub, sub } = await pair((m) => (m === '1' ? 'duplicate' : 'deliver'));
  const got = receive(sub, 3);
  for (const m of ['1', '2']) await pub.publish('t/x', m, { qos: 1 });
  t.deepEqual(await got, ['1', '1', '2']);
  t.is(broker.stats.duplicated, 1);
});

test('hold + releaseHeld: a delivery goes out after later ones (reordering)', async (t) => {
  const { broker, pub, sub } = await pair((m) => (m === '1' ? 'hold' : 'deliver'));
  const got = receive(sub, 3);
  for (const m of ['1', '2', '3']) await pub.publish('t/x', m, { qos: 1 });
  t.is(broker.heldCount, 1);
  t.is(broker.releaseHeld(), 1);
  t.deepEqual(await got, ['2', '3', '1']);
});

test('the hook sees who sent what to whom; wildcard subscriptions decide who gets it', async (t) => {
  const broker = new MemoryBroker();
  const seen: string[] = [];
  broker.faults = (d) => (seen.push(`${d.from}>${d.to} ${d.topic}`), 'deliver');
  const pub = await broker.connect({ clientId: 'pub' });
  const one = await broker.connect({ clientId: 'one' });
  const two = await broker.connect({ clientId: 'two' });
  await one.subscribe('a/+/c');
  await two.subscribe(['a/#', 'a/b/c']);
  const gotTwo = receive(two, 2);
  await pub.publish('a/b/c', 'x');
  await pub.publish('a/d', 'y');
  t.deepEqual(await gotTwo, ['x', 'y'], 'one delivery per client, however many of its filters match');
  t.deepEqual(seen, ['pub>one a/b/c', 'pub>two a/b/c', 'pub>two a/d']);
});
