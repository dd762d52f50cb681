import test from 'ava';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import mqtt from 'mqtt';
import { cborDecoder, decodeFrame, type NodeHeartbeat } from '@tributary/shared';
import { startEmbeddedBroker, type EmbeddedBroker } from '../cloud-core/src/broker/embedded-broker.js';
import { expectedPlantWindows, plantKey, type PlantWindow } from '../chaos/reference.js';
import { until } from './helpers/cluster.js';
import { openSse } from './helpers/sse.js';
import { AGENTS, compareWithReference, plantApp, plantCluster, readLines, submitPlantMonitor, untilFinished } from './helpers/plant-cluster.js';

/**
 * Paced plant-monitor data (readings follow the wall clock): `seconds` of data per sensor, a
 * reading every 20 ms, windows of 1 s, results and late records in files.
 */
const pacedParams = (output: string, seconds: number, extra: Record<string, string> = {}): Record<string, string> => ({
  count: String(seconds * 50), startTs: '0', intervalMs: '20', windowMs: '1000', seed: '7', paced: 'true', speed: '1', output, ...extra,
});

/** Waits until the output holds a result for every agent whose window ends at or after `ts`. */
const untilResultsReach = (output: string, ts: number, devices = AGENTS) =>
  until(`results up to ${ts} for ${devices.join(', ')}`, async () => {
    const lines = await readLines<PlantWindow>(output);
    return devices.every((d) => lines.some((w) => w.device === d && w.windowEnd >= ts)) ? lines : undefined;
  }, 600);

test.serial('the broker down for 30 s while agents keep producing: the backlog is forwarded in order, nothing lost, windows exact', async (t) => {
  // Records every heartbeat's replay-log backlog as the broker forwards it to the master.
  const backlog = new Map<string, number>();
  const forward = (topic: string, _client: string, payload: Buffer): boolean => {
    const m = /^trib\/(dev-\d)\/hb$/.exec(topic);
    if (m) {
      const hb = cborDecoder.decode(payload) as NodeHeartbeat;
      backlog.set(m[1], Math.max(backlog.get(m[1]) ?? 0, hb.replayLog?.backlogRecords ?? 0));
    }
    return true;
  };
  let broker: EmbeddedBroker = await startEmbeddedBroker({ port: 0, forward });
  t.teardown(() => broker.close());
  const c = await plantCluster(t, ['--broker', broker.url]);
  const p = pacedParams(join(c.dir, 'windows.jsonl'), 45);
  await submitPlantMonitor(c, p);
  await untilResultsReach(p.output, 3000);

  await broker.close();
  backlog.clear();
  // The outage itself: a fixed 30 s, during which nothing can be observed over MQTT.
  await delay(30_000);
  broker = await startEmbeddedBroker({ port: broker.port, forward });

  const done = await untilFinished(c);
  await compareWithReference(t, p.output, p);
  t.deepEqual(await readLines(`${p.output}.late`), [], 'no record arrived behind the clock');
  // Each agent's heartbeats queued during the outage (delivered on reconnect) show what it kept
  // on disk meanwhile: ~30 s x 100 readings/s, trimmed only once a checkpoint completes again.
  for (const id of AGENTS) t.true((backlog.get(id) ?? 0) >= 2400, `${id} kept producing into its replay log (backlog ${backlog.get(id)})`);
  t.log(`epoch ${done.epoch}; peak backlog after the outage ${JSON.stringify(Object.fromEntries(backlog))}`);
});

test.serial('an agent offline past the idle timeout: the rest progresses, and its records behind the clock go to the late output', async (t) => {
  const refused = new Set<string>();
  const broker = await startEmbeddedBroker({ port: 0, admit: (id) => !refused.has(id) });
  t.teardown(() => broker.close());
  const c = await plantCluster(t, ['--broker', broker.url]);
  const p = pacedParams(join(c.dir, 'windows.jsonl'), 24, { idleTimeoutMs: '1500' });
  await submitPlantMonitor(c, p);
  await untilResultsReach(p.output, 3000);

  // dev-2's link goes down; the agent itself keeps running (and logging its readings).
  // The master's pushed snapshots (SSE) show it offline: an event, not a poll.
  const stream = await openSse(`${c.master.httpUrl}/stream`);
  t.teardown(() => stream.close());
  refused.add('dev-2');
  t.true(broker.disconnect('dev-2'));
  await stream.next((e) => (JSON.parse(e.data) as { nodes: Array<{ id: string; online: boolean }> }).nodes.some((n) => n.id === 'dev-2' && !n.online), 'dev-2 offline');
  await stream.close();
  const cut = Math.max(...(await readLines<PlantWindow>(p.output)).filter((w) => w.device === 'dev-2').map((w) => w.windowEnd));
  // dev-1's windows keep coming, 5 s of event time past dev-2's last one, while dev-2 is away.
  await untilResultsReach(p.output, cut + 5000, ['dev-1']);
  const whileAway = await readLines<PlantWindow>(p.output);
  t.false(whileAway.some((w) => w.device === 'dev-2' && w.windowEnd > cut + 2000), 'nothing of dev-2 beyond its last data');
  refused.delete('dev-2');

  await untilFinished(c);
  const lines = await readLines<PlantWindow>(p.output);
  const late = await readLines<{ device: string; ts: number }>(`${p.output}.late`);
  const expected = await expectedPlantWindows(AGENTS, p);
  const keys = lines.map(plantKey);
  t.is(new Set(keys).size, keys.length, 'no result twice');
  // dev-1 never left: its windows are exactly the failure-free ones.
  const dev1 = [...expected.values()].filter((w) => w.device === 'dev-1');
  t.deepEqual(lines.filter((w) => w.device === 'dev-1').sort(byKey), dev1.sort(byKey));
  // dev-2: its windows before the outage are exact; what came back behind the clock is in the
  // late output, the rest in windows; nothing lost, nothing counted twice.
  const dev2 = lines.filter((w) => w.device === 'dev-2');
  for (const w of dev2.filter((x) => x.windowEnd <= cut)) t.deepEqual(w, expected.get(plantKey(w)), `window ${plantKey(w)}`);
  for (const w of dev2) t.true(w.count <= expected.get(plantKey(w))!.count, `window ${plantKey(w)} holds no extra record`);
  const dev2Late = late.filter((r) => r.device === 'dev-2');
  t.true(dev2Late.length > 0, 'some of dev-2 records arrived behind the clock');
  t.true(dev2Late.every((r) => r.ts >= cut - 1000), 'only records from its time away are late');
  t.is(late.length, dev2Late.length, 'none of dev-1 is late');
  const sum = (ws: PlantWindow[]) => ws.reduce((n, w) => n + w.count, 0);
  t.is(sum(dev2) + dev2Late.length, sum([...expected.values()].filter((w) => w.device === 'dev-2')), 'every dev-2 record is in a window or late');
});

const byKey = (a: PlantWindow, b: PlantWindow): number => plantKey(a).localeCompare(plantKey(b));

test.serial('a frame lost just before its channel falls silent is detected (AckRequest) and replayed', async (t) => {
  // The broker loses the next frame carrying records to a worker once `armed`.
  let armed = false;
  let dropped = 0;
  const broker = await startEmbeddedBroker({
    port: 0,
    forward: (topic, client, payload) => {
      // (the master may subscribe to data topics too: only the worker's copy is lost)
      if (!armed || !client.startsWith('w-') || !topic.includes('/data/w-') || decodeFrame(payload).messages.length === 0) return true;
      armed = false;
      dropped++;
      return false;
    },
  });
  t.teardown(() => broker.close());
  const c = await plantCluster(t, ['--broker', broker.url], ['dev-1']);
  const output = join(c.dir, 'tail.jsonl');
  await submitPlantMonitor(c, { broker: broker.url, output }, 'test/apps/idle-tail.ts');
  const device = await mqtt.connectAsync(broker.url, { clientId: 'sensor-1' });
  t.teardown(() => device.endAsync());
  const publish = (n: number) => device.publishAsync('idle-tail/in', JSON.stringify({ ts: Date.now(), n }), { qos: 1 });
  const seen = async (n: number) => (await readLines<{ n: number }>(output)).some((r) => r.n === n);
  // Until the edge source has subscribed, readings are not accepted: knock until one gets through.
  await until('the pipeline to carry a reading', async () => ((await seen(0)) ? true : void (await publish(0))), 300, 200);
  for (let n = 1; n <= 10; n++) await publish(n);
  await until('readings 1-10', async () => ((await seen(10)) ? true : undefined));

  // The last reading before silence: its frame is lost, and nothing follows it on that channel.
  armed = true;
  await publish(11);
  await until('reading 11 despite its lost frame', async () => ((await seen(11)) ? true : undefined), 600);
  t.is(dropped, 1);
  const a = await plantApp(c, 'idle-tail');
  t.true(a.epoch >= 2, 'recovered in a new epoch');
  t.regex(a.recovery.reason, /frames lost/);
  const ns = (await readLines<{ n: number }>(output)).map((r) => r.n).filter((n) => n > 0);
  t.deepEqual(ns.sort((x, y) => x - y), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11], 'each reading once');
});
