import test from 'ava';
import { randomBytes } from 'node:crypto';
import {
  createLogger,
  ErrorCodes,
  TributaryError,
  connectMqttTransport,
  matchesFilter,
  MemoryBroker,
  topics,
  type Transport,
  type TransportOptions,
  type TransportStatus,
} from '@tributary/shared';
import { startEmbeddedBroker } from '../cloud-core/src/broker/index.js';
import { startMosquitto } from './helpers/mosquitto.js';
import { freePort } from './helpers/ports.js';

const silentLog = createLogger({ level: 'silent' });
const TEST_TIMEOUT_MS = 20_000;

/** A broker a test owns: it may stop it and start another on the same port. */
interface BrokerHandle {
  readonly url: string;
  readonly port: number;
  stop(): Promise<void>;
}

/**
 * One implementation under test: how to start its broker (on a given port, to restart one), how
 * to connect a client, and where no broker listens. A case an implementation cannot meaningfully
 * run would be gated by a capability declared here (none is needed so far: the memory broker can
 * be stopped, restarted and be absent, so every case runs against all three).
 */
interface Backend {
  startBroker(port?: number): Promise<BrokerHandle>;
  connect(options: TransportOptions): Promise<Transport>;
  /** A URL where no broker runs. */
  deadUrl(): Promise<string>;
}

interface Received {
  topic: string;
  payload: Buffer;
  text: string;
}

/** Records what `transport` receives on `filter`; `next` awaits a (past or future) message. */
function collect(transport: Transport, filter: string) {
  const messages: Received[] = [];
  const waiters = new Set<{ test: (m: Received) => boolean; resolve: (m: Received) => void }>();
  const off = transport.onMessage((topic, payload) => {
    if (!matchesFilter(filter, topic)) return;
    const m = { topic, payload, text: payload.toString() };
    messages.push(m);
    for (const w of waiters) {
      if (w.test(m)) {
        waiters.delete(w);
        w.resolve(m);
      }
    }
  });
  const next = (test: (m: Received) => boolean = () => true): Promise<Received> => {
    const seen = messages.find(test);
    return seen ? Promise.resolve(seen) : new Promise((resolve) => waiters.add({ test, resolve }));
  };
  return { messages, off, next, text: (text: string) => next((m) => m.text === text) };
}

function nextStatus(transport: Transport, status: TransportStatus): Promise<void> {
  return new Promise((resolve) => {
    const off = transport.onStatus((s) => {
      if (s !== status) return;
      off();
      resolve();
    });
  });
}

/**
 * The Transport conformance suite, run against every broker the fabric supports. Each test owns
 * its broker (ava runs a file's tests concurrently, and one test restarts its broker).
 */
export function runTransportSuite(name: string, backend: Backend): void {
  const cleanups: Array<() => Promise<unknown>> = [];
  const broker = async (port?: number) => {
    const b = await backend.startBroker(port);
    cleanups.push(() => b.stop());
    return b;
  };
  const client = async (url: string, clientId: string, extra: Partial<TransportOptions> = {}): Promise<Transport> => {
    const t = await backend.connect({ url, clientId, log: silentLog, reconnectMs: 100, ...extra });
    cleanups.unshift(() => t.close({ force: true }));
    return t;
  };
  test.after.always(`${name}: stop brokers and clients`, async () => {
    await Promise.allSettled(cleanups.splice(0).map((c) => c()));
  });

  test(`${name}: QoS 1 publish/subscribe round trip of binary payloads`, async (t) => {
    t.timeout(TEST_TIMEOUT_MS);
    const b = await broker();
    const sub = await client(b.url, 'rt-sub');
    const pub = await client(b.url, 'rt-pub');
    await sub.subscribe(topics.dataFilterFor('rt-sub'), 1);
    const got = collect(sub, topics.dataFilterFor('rt-sub'));
    const topic = topics.data('rt-pub', 'rt-sub', 'app1', 't0');
    const binary = Buffer.concat([Buffer.from([0, 255, 0, 128, 10, 13]), randomBytes(64 * 1024)]);
    await pub.publish(topic, new Uint8Array(binary.buffer, binary.byteOffset, binary.byteLength), { qos: 1 });
    await pub.publish(topic, 'text é', { qos: 1 });
    const first = await got.next();
    const second = await got.next((m) => m !== first);
    t.is(first.topic, topic);
    t.true(Buffer.isBuffer(first.payload));
    t.true(first.payload.equals(binary));
    t.is(second.text, 'text é');
  });

  test(`${name}: every handler gets every message; removed handlers get none`, async (t) => {
    t.timeout(TEST_TIMEOUT_MS);
    const b = await broker();
    const sub = await client(b.url, 'mh-sub');
    const pub = await client(b.url, 'mh-pub');
    const filter = topics.nodeKindFilter('events');
    await sub.subscribe(filter);
    const one = collect(sub, filter);
    const two = collect(sub, filter);
    sub.onMessage(() => {
      throw new Error('a throwing handler does not starve the others');
    });
    await pub.publish(topics.events('mh-pub'), 'm1', { qos: 1 });
    await Promise.all([one.text('m1'), two.text('m1')]);
    one.off();
    await pub.publish(topics.events('mh-pub'), 'm2', { qos: 1 });
    await two.text('m2'); // handlers run in the same dispatch, so `one` would have seen it by now
    t.deepEqual(one.messages.map((m) => m.text), ['m1']);
    t.deepEqual(two.messages.map((m) => m.text), ['m1', 'm2']);
  });

  test(`${name}: a retained message reaches a late subscriber`, async (t) => {
    t.timeout(TEST_TIMEOUT_MS);
    const b = await broker();
    const pub = await client(b.url, 'ret-pub');
    const witness = await client(b.url, 'ret-witness');
    const topic = topics.appClock('app1');
    await witness.subscribe(topic);
    const seen = collect(witness, topic);
    await pub.publish(topic, '1700000000000', { qos: 1, retain: true });
    // Brokers store a retained message before routing it, so once the witness has it a late
    // subscriber must get it (aedes acknowledges QoS 1 before storing, so the PUBACK is not proof).
    await seen.text('1700000000000');
    const late = await client(b.url, 'ret-late');
    const got = collect(late, topic);
    await late.subscribe(topic);
    t.is((await got.next()).text, '1700000000000');
  });

  test(`${name}: the last will is published when a client dies without DISCONNECT`, async (t) => {
    t.timeout(TEST_TIMEOUT_MS);
    const b = await broker();
    const watcher = await client(b.url, 'lw-watch');
    const status = topics.status('lw-victim');
    await watcher.subscribe(status);
    const seen = collect(watcher, status);
    const victim = await client(b.url, 'lw-victim', {
      will: { topic: status, payload: 'offline', qos: 1, retain: true },
      birth: { topic: status, payload: 'online', qos: 1, retain: true },
    });
    await seen.text('online');
    await victim.close({ force: true }); // destroys the socket: no DISCONNECT packet
    await seen.text('offline');
    t.deepEqual(seen.messages.map((m) => m.text), ['online', 'offline']);
    // The will was retained: whoever looks later sees the node as offline.
    const late = await client(b.url, 'lw-late');
    const lateSeen = collect(late, status);
    await late.subscribe(status);
    t.is((await lateSeen.next()).text, 'offline');
  });

  test(`${name}: reconnects after a broker restart and delivers what was published offline`, async (t) => {
    t.timeout(TEST_TIMEOUT_MS);
    const first = await broker();
    const sub = await client(first.url, 'rc-sub');
    const pub = await client(first.url, 'rc-pub');
    const events = topics.events('rc-pub');
    const clock = topics.clock('rc-pub');
    await sub.subscribe([events, clock]);
    const seen = collect(sub, '#');
    const offline = Promise.all([nextStatus(sub, 'offline'), nextStatus(pub, 'offline')]);
    await first.stop();
    await offline;
    t.false(pub.connected);
    // Retained, so the subscriber gets it whether it resubscribes before or after the publisher
    // flushes its offline queue (with clean sessions that order is up to the two reconnects).
    const published = pub.publish(events, 'published while offline', { qos: 1, retain: true });
    const subscribedOffline = sub.subscribe(topics.hello('rc-pub')); // resolves after reconnect
    const back = Promise.all([nextStatus(sub, 'connected'), nextStatus(pub, 'connected')]);
    await broker(first.port);
    await published; // acknowledged by the new broker
    t.is((await seen.text('published while offline')).topic, events);
    await back; // `connected` is reported once subscriptions are restored
    t.true(sub.connected && pub.connected);
    await subscribedOffline;
    await pub.publish(clock, 'after reconnect', { qos: 1 });
    await pub.publish(topics.hello('rc-pub'), 'hello', { qos: 1 });
    t.is((await seen.text('after reconnect')).topic, clock);
    t.is((await seen.text('hello')).topic, topics.hello('rc-pub'));
  });

  test(`${name}: close() is graceful and idempotent`, async (t) => {
    t.timeout(TEST_TIMEOUT_MS);
    const b = await broker();
    const sub = await client(b.url, 'cl-sub');
    const status = topics.status('cl-pub');
    const filter = topics.dataFilterFor('cl-sub');
    await sub.subscribe([filter, status]);
    const data = collect(sub, filter);
    const statuses = collect(sub, status);
    const pub = await client(b.url, 'cl-pub', { will: { topic: status, payload: 'will', qos: 1 } });
    const topic = topics.data('cl-pub', 'cl-sub', 'app1', 't0');
    const publishes = Array.from({ length: 200 }, (_, i) => pub.publish(topic, String(i), { qos: 1 }));
    const closes = [pub.close(), pub.close()];
    await Promise.all(publishes); // pending QoS 1 publishes were flushed, not dropped
    await Promise.all(closes);
    await pub.close();
    t.false(pub.connected);
    const err = await t.throwsAsync(pub.publish(topic, 'late', { qos: 1 }), { instanceOf: TributaryError });
    t.is(err?.code, ErrorCodes.TRANSPORT_CLOSED);
    await data.next((m) => m.text === '199');
    t.is(data.messages.length, 200);
    // A graceful close sends DISCONNECT, so no will: a later status message is the first one.
    await sub.publish(status, 'control', { qos: 1 });
    await statuses.text('control');
    t.deepEqual(statuses.messages.map((m) => m.text), ['control']);
  });

  test(`${name}: connecting where no broker runs rejects with a typed error`, async (t) => {
    t.timeout(TEST_TIMEOUT_MS);
    const url = await backend.deadUrl();
    const err = await t.throwsAsync(
      backend.connect({ url, clientId: 'nobody-home', connectTimeoutMs: 500, reconnectMs: 50, log: silentLog }),
      { instanceOf: TributaryError },
    );
    t.is(err?.code, ErrorCodes.BROKER_UNREACHABLE);
  });
}

const mqtt = {
  connect: (options: TransportOptions) => connectMqttTransport(options),
  deadUrl: async () => `mqtt://127.0.0.1:${await freePort()}`,
};

runTransportSuite('aedes', {
  ...mqtt,
  async startBroker(port = 0) {
    const b = await startEmbeddedBroker({ port, log: silentLog });
    return { url: b.url, port: b.port, stop: () => b.close() };
  },
});

runTransportSuite('mosquitto', { ...mqtt, startBroker: (port) => startMosquitto({ port }) });

/** In-memory brokers by a made-up port, so a test can stop one and start it again "on its port". */
const memoryBrokers = new Map<number, MemoryBroker>();
let nextMemoryPort = 1;
const memoryUrl = (port: number) => `memory://${port}`;

runTransportSuite('memory', {
  async startBroker(port) {
    let broker = port === undefined ? undefined : memoryBrokers.get(port);
    if (broker) broker.start();
    else {
      port ??= nextMemoryPort++;
      broker = new MemoryBroker();
      memoryBrokers.set(port, broker);
    }
    const b = broker;
    return { url: memoryUrl(port!), port: port!, stop: async () => b.stop() };
  },
  async connect(options) {
    const broker = memoryBrokers.get(Number(new URL(options.url).host));
    if (!broker) throw new TributaryError(ErrorCodes.BROKER_UNREACHABLE, `no memory broker at ${options.url}`);
    return broker.connect(options);
  },
  deadUrl: async () => memoryUrl(nextMemoryPort++),
});

test('mosquitto: a refused connection rejects with TRIB_ERR_BROKER_REFUSED at once', async (t) => {
  t.timeout(TEST_TIMEOUT_MS);
  const m = await startMosquitto({ allowAnonymous: false });
  try {
    const err = await t.throwsAsync(
      connectMqttTransport({ url: m.url, clientId: 'anonymous', connectTimeoutMs: 15_000, log: silentLog }),
      { instanceOf: TributaryError },
    );
    t.is(err?.code, ErrorCodes.BROKER_REFUSED);
  } finally {
    await m.stop();
  }
});
