/**
 * The embedded broker's resource limits (issue 13): packet size, publish rate per client,
 * connections. Real aedes, plain mqtt.js clients; each refusal is counted in `stats()` and the
 * other clients' traffic goes on.
 */
import { EventEmitter } from 'node:events';
import { join } from 'node:path';
import type { Socket } from 'node:net';
import test from 'ava';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { createLogger, type Logger } from '@tributary/shared';
import { startEmbeddedBroker, type BrokerLimits, type EmbeddedBroker } from '../cloud-core/src/broker/index.js';
import { DEFAULT_BROKER_LIMITS, RefusalLog, watchPacketSizes } from '../cloud-core/src/broker/broker-limits.js';
import { startMaster } from './helpers/cluster.js';
import { tempDir } from './helpers/tmp.js';

const silentLog = createLogger({ level: 'silent' });

async function withBroker(limits: Partial<BrokerLimits>, body: (b: EmbeddedBroker, connect: (id: string, o?: IClientOptions) => Promise<MqttClient>) => Promise<void>): Promise<void> {
  const broker = await startEmbeddedBroker({ port: 0, log: silentLog, limits });
  const clients: MqttClient[] = [];
  const connect = async (clientId: string, o: IClientOptions = {}) => {
    const c = await mqtt.connectAsync(broker.url, { clientId, reconnectPeriod: 0, ...o });
    clients.push(c);
    return c;
  };
  try {
    await body(broker, connect);
  } finally {
    await Promise.all(clients.map((c) => c.endAsync(true).catch(() => {})));
    await broker.close();
  }
}

/** Collects what `sub` receives per topic; `until(pred)` resolves once pred holds. */
function collector(sub: MqttClient) {
  const got = new Map<string, string[]>();
  const waiters: { pred: () => boolean; resolve: () => void }[] = [];
  const check = () => {
    for (const w of [...waiters]) if (w.pred()) {
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve();
    }
  };
  sub.on('message', (topic, payload) => {
    got.set(topic, [...(got.get(topic) ?? []), payload.toString()]);
    check();
  });
  const count = (topic: string) => got.get(topic)?.length ?? 0;
  const until = (pred: () => boolean) => new Promise<void>((resolve) => {
    waiters.push({ pred, resolve });
    check();
  });
  return { got, count, until };
}

test('defaults sit above the largest frame the runtime encodes (16 MiB) and a node at full speed', (t) => {
  t.true(DEFAULT_BROKER_LIMITS.maxPacketBytes > 16 * 1024 * 1024);
  t.true(DEFAULT_BROKER_LIMITS.maxPublishRate >= 10_000);
  t.true(DEFAULT_BROKER_LIMITS.maxConnections >= 100);
});

test('an oversize publish is refused (connection closed) and counted; others go on', async (t) => {
  await withBroker({ maxPacketBytes: 1024 }, async (broker, connect) => {
    const sub = await connect('sub');
    await sub.subscribeAsync('t/#', { qos: 1 });
    const rx = collector(sub);
    const big = await connect('big');
    const good = await connect('good');
    const closed = new Promise<void>((resolve) => big.once('close', () => resolve()));
    big.publish('t/big', Buffer.alloc(4096, 1), { qos: 0 });
    await closed;
    t.is(broker.stats().refused.packet_size, 1);
    // Just under the limit passes; the other client's traffic is untouched.
    await good.publishAsync('t/good', Buffer.alloc(900, 2).toString(), { qos: 1 });
    for (const m of ['1', '2', '3']) await good.publishAsync('t/good', m, { qos: 1 });
    await rx.until(() => rx.count('t/good') === 4);
    t.is(rx.count('t/big'), 0);
    t.deepEqual(rx.got.get('t/good')!.slice(1), ['1', '2', '3']);
    t.true(good.connected && sub.connected);
    t.deepEqual(broker.stats().refused, { packet_size: 1, publish_rate: 0, connections: 0, auth: 0, tls: 0, acl_publish: 0, acl_subscribe: 0 });
  });
});

test('the packet-size watch follows packet boundaries across chunks of any size', (t) => {
  // Three packets: 2 bytes (PINGREQ), a 200-byte publish (2-byte length), a 300-byte one.
  const packet = (len: number) => {
    const header = len < 128 ? [0x30, len] : [0x30, (len & 0x7f) | 0x80, len >> 7];
    return Buffer.concat([Buffer.from(header), Buffer.alloc(len, 7)]);
  };
  const stream = Buffer.concat([Buffer.from([0xc0, 0x00]), packet(200), packet(300)]);
  for (const chunkSize of [1, 2, 3, 7, 64, stream.length]) {
    const socket = new EventEmitter();
    const seen: number[] = [];
    watchPacketSizes(socket as unknown as Socket, 250, (n) => seen.push(n));
    for (let i = 0; i < stream.length; i += chunkSize) socket.emit('data', stream.subarray(i, i + chunkSize));
    t.deepEqual(seen, [303], `chunks of ${chunkSize}`);
    t.is(socket.listenerCount('data'), 0);
  }
});

test('refusals are all counted, their warnings rate-limited per reason with a count of the skipped', (t) => {
  const lines: Record<string, unknown>[] = [];
  const log = { warn: (o: Record<string, unknown>) => lines.push(o) } as unknown as Logger;
  let now = 0;
  const refusals = new RefusalLog(log, 10_000, () => now);
  for (let i = 0; i < 5; i++) refusals.refuse('publish_rate', 'flooder', {}, 'refused');
  refusals.refuse('connections', 'c9', {}, 'refused');
  now = 10_000;
  refusals.refuse('publish_rate', 'flooder', {}, 'refused');
  t.deepEqual(refusals.counts, { packet_size: 0, publish_rate: 6, connections: 1, auth: 0, tls: 0, acl_publish: 0, acl_subscribe: 0 });
  t.deepEqual(lines.map((l) => [l.reason, l.clientId, l.suppressed]), [['publish_rate', 'flooder', undefined], ['connections', 'c9', undefined], ['publish_rate', 'flooder', 4]]);
  // With a key (ACL, auth: identity and topic), each distinct denial is logged once per interval.
  lines.length = 0;
  for (const topic of ['t/1', 't/2', 't/1']) refusals.refuse('acl_publish', 'a', { topic }, 'denied', `a/${topic}`);
  t.deepEqual(lines.map((l) => l.topic), ['t/1', 't/2']);
  t.is(refusals.counts.acl_publish, 3);
});

test('a publish flood from one client is limited and counted; a well-behaved client gets through', async (t) => {
  await withBroker({ maxPublishRate: 10, publishBurst: 10 }, async (broker, connect) => {
    const sub = await connect('sub');
    await sub.subscribeAsync('t/#', { qos: 1 });
    const rx = collector(sub);
    const flooder = await connect('flooder');
    const good = await connect('good');
    const n = 200;
    // Every flood publish is acknowledged (refused ones are dropped, not answered by a disconnect).
    await Promise.all(Array.from({ length: n }, (_, i) => flooder.publishAsync('t/flood', String(i), { qos: 1 })));
    const refused = broker.stats().refused.publish_rate;
    t.true(refused > 0, 'the flood met the limit');
    for (const m of ['a', 'b', 'c', 'd', 'e']) await good.publishAsync('t/good', m, { qos: 1 });
    await rx.until(() => rx.count('t/good') === 5 && rx.count('t/flood') === n - refused);
    t.deepEqual(rx.got.get('t/good'), ['a', 'b', 'c', 'd', 'e']);
    t.true(flooder.connected, 'a rate refusal does not disconnect');
    t.is(rx.count('$TRIB/denied'), 0);
  });
});

test('the N+1th connection is refused with CONNACK 3 and counted; a session takeover is not', async (t) => {
  await withBroker({ maxConnections: 2 }, async (broker, connect) => {
    const a = await connect('a');
    await connect('b');
    const err = await t.throwsAsync(connect('c'));
    t.is((err as Error & { code?: number }).code, 3);
    t.deepEqual(broker.stats(), { clients: 2, refused: { packet_size: 0, publish_rate: 0, connections: 1, auth: 0, tls: 0, acl_publish: 0, acl_subscribe: 0 } });
    // The same id again replaces its session: no extra connection, admitted.
    const gone = new Promise<void>((resolve) => {
      const off = broker.on('clientDisconnect', (id) => {
        if (id === 'a') {
          off();
          resolve();
        }
      });
    });
    await connect('b');
    t.is(broker.stats().clients, 2);
    // A slot freed is a slot taken.
    await a.endAsync();
    await gone;
    await connect('c');
    t.is(broker.stats().clients, 2);
    t.is(broker.stats().refused.connections, 1);
  });
});

test('tributary master: --broker-max-connections refuses, /metrics counts it by reason', async (t) => {
  const dir = await tempDir();
  t.teardown(dir.cleanup);
  // Anonymous clients admitted here: the connection limit is under test, not authentication.
  const master = await startMaster(join(dir.path, 'master'), ['--broker-max-connections', '2', '--allow-anonymous-mqtt', 'on']);
  t.teardown(() => master.proc.stop());
  // The master's own client is the first connection.
  const ok = await mqtt.connectAsync(master.brokerUrl, { clientId: 'ok', reconnectPeriod: 0 });
  t.teardown(() => ok.endAsync(true));
  const err = await t.throwsAsync(mqtt.connectAsync(master.brokerUrl, { clientId: 'extra', reconnectPeriod: 0 }));
  t.is((err as Error & { code?: number }).code, 3);
  const text = await (await fetch(new URL('/metrics', master.httpUrl))).text();
  t.regex(text, /^tributary_broker_refused_total\{reason="connections"\} 1$/m);
  t.regex(text, /^tributary_broker_refused_total\{reason="packet_size"\} 0$/m);
  // Every reason of stats().refused is exported, the authentication and ACL ones too (issue 13).
  for (const reason of ['auth', 'tls', 'acl_publish', 'acl_subscribe']) t.regex(text, new RegExp(`^tributary_broker_refused_total\\{reason="${reason}"\\} 0$`, 'm'));
  t.regex(text, /^tributary_broker_clients 2$/m);
});
