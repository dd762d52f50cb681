import test, { type ExecutionContext } from 'ava';
import { createServer, type Server } from 'node:net';
import { Aedes } from 'aedes';
import { ErrorCodes, TributaryError, connectMqttClient, endMqttClient } from '@tributary/shared';
import { startEmbeddedBroker } from '../cloud-core/src/broker/index.js';
import { plainClient, silent } from './helpers/mqtt.js';
import { freePort } from './helpers/ports.js';

/** The one MQTT client layer (shared/src/mqtt/mqtt-client.ts) on its own, against aedes. */

test('failFast: a dead port rejects at once (not after connectTimeoutMs) with TRIB_ERR_BROKER_UNREACHABLE naming the URL', async (t) => {
  const url = `mqtt://127.0.0.1:${await freePort()}`;
  const err = await t.throwsAsync(connectMqttClient({ url, clientId: 'c-dead', connectTimeoutMs: 60_000, failFast: true, log: silent }), { instanceOf: TributaryError });
  t.is(err?.code, ErrorCodes.BROKER_UNREACHABLE);
  t.true(err!.message.includes(url), err!.message);
  t.regex(err!.message, /ECONNREFUSED/, 'the socket error, not the timeout');
});

test('without failFast it keeps retrying until the broker comes up', async (t) => {
  const port = await freePort();
  let brokerUp: Promise<unknown> | undefined;
  const client = await connectMqttClient({ url: `mqtt://127.0.0.1:${port}`, clientId: 'c-early', reconnectMs: 50, log: silent }, (c) => {
    // The first attempt has failed: start the broker now (an event, not a wait).
    c.once('reconnect', () => {
      brokerUp = startEmbeddedBroker({ port, log: silent }).then((b) => t.teardown(() => b.close()));
    });
  });
  t.teardown(() => endMqttClient(client, { force: true }));
  t.truthy(brokerUp, 'it connected only after a retry');
  t.true(client.connected);
});

test('a refused CONNECT rejects with TRIB_ERR_BROKER_REFUSED at once, with or without failFast', async (t) => {
  const url = await refusingBroker(t);
  for (const failFast of [true, false]) {
    const err = await t.throwsAsync(connectMqttClient({ url, clientId: `c-refused-${failFast}`, username: 'u', password: 'wrong', connectTimeoutMs: 60_000, failFast, log: silent }), {
      instanceOf: TributaryError,
    });
    t.is(err?.code, ErrorCodes.BROKER_REFUSED, `failFast ${failFast}`);
  }
});

test('endMqttClient: a graceful end sends DISCONNECT (no will); a forced one does not (the broker publishes the will)', async (t) => {
  const broker = await startEmbeddedBroker({ port: 0, log: silent });
  t.teardown(() => broker.close());
  const watcher = await plainClient(t, broker.url);
  const wills: string[] = [];
  let willSeen!: () => void;
  const firstWill = new Promise<void>((resolve) => (willSeen = resolve));
  watcher.on('message', (_topic, payload) => {
    wills.push(payload.toString());
    willSeen();
  });
  await watcher.subscribeAsync('wills', { qos: 1 });
  const withWill = (clientId: string) => connectMqttClient({ url: broker.url, clientId, will: { topic: 'wills', payload: clientId, qos: 1 }, log: silent });

  const graceful = await withWill('c-graceful');
  const gone = new Promise<void>((resolve) => broker.on('clientDisconnect', (id) => id === 'c-graceful' && resolve()));
  await endMqttClient(graceful);
  await gone;
  t.true(graceful.disconnected);
  // Had the graceful end published a will, it would reach the watcher before this one.
  const forced = await withWill('c-forced');
  await endMqttClient(forced, { force: true });
  await firstWill;
  t.deepEqual(wills, ['c-forced']);
  // Ending twice is harmless.
  await t.notThrowsAsync(endMqttClient(forced));
});

/** A bare aedes that refuses every CONNECT (CONNACK return code 5, not authorized). */
async function refusingBroker(t: ExecutionContext): Promise<string> {
  const broker = await Aedes.createBroker({
    authenticate: (_client, _username, _password, done) => done(Object.assign(new Error('not authorized'), { returnCode: 5 }), false),
  });
  const server: Server = createServer((socket) => broker.handle(socket));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(async () => {
    await new Promise<void>((resolve) => broker.close(() => resolve()));
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  const address = server.address();
  return `mqtt://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
}
