import test from 'ava';
import type { MqttClient } from 'mqtt';
import { builtinConnectors, createSink, mqttSink, type SinkContext, type TaskContext } from '@tributary/shared';
import { sinkOperator } from '../shared/src/api/operators/sink-operator.js';
import { plainClient, silent, testBroker } from './helpers/mqtt.js';

/**
 * A task aborted while its MQTT sink is still connecting (a new epoch came: a master restart
 * starts several in a row) must not leave that connection behind. Left open, it reconnected for
 * ever under the client id the next run's sink takes, and the two threw each other off the
 * broker in turn until the new one's exactly-once marker read timed out and the application
 * failed (seen in the recovery benchmark's master kills). The broker's own `$SYS` events say when
 * the sink's client has gone.
 */
/** A bound on waiting for a disconnect that should come (a connection left open never ends). */
const BOUND_MS = 15_000;

/** Client ids whose connections the broker saw end, as they come (`$SYS/<broker>/disconnect/clients`). */
async function disconnects(observer: MqttClient): Promise<{ gone: string[]; seen(id: string): Promise<boolean> }> {
  const gone: string[] = [];
  let wake: (() => void) | null = null;
  observer.on('message', (topic, payload) => {
    if (!topic.endsWith('/disconnect/clients')) return;
    gone.push(payload.toString());
    wake?.();
  });
  await observer.subscribeAsync('$SYS/+/disconnect/clients', { qos: 0 });
  return {
    gone,
    /** True once the broker has seen `id`'s connection end; false if it has not within BOUND_MS. */
    async seen(id: string) {
      const bound = Date.now() + BOUND_MS;
      while (!gone.includes(id) && Date.now() < bound) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, bound - Date.now());
          wake = () => (clearTimeout(timer), resolve());
        });
      }
      return gone.includes(id);
    },
  };
}

test('an MQTT sink closed while it connects waits for that connection and ends it', async (t) => {
  const url = await testBroker(t);
  const seen = await disconnects(await plainClient(t, url));

  const sink = createSink(mqttSink({ url, topic: 'race/results', clientId: 'race-sink', format: 'json' }), builtinConnectors);
  const ctx: SinkContext = { taskIndex: 0, parallelism: 1, log: silent, exactlyOnce: true, resume: true, app: 'race', processor: 'sink' };
  const opening = sink.open?.(ctx);
  // The abort comes before the CONNACK; close() returns once the connection is ended.
  await sink.close?.();
  await opening;
  t.true(await seen.seen('race-sink'), 'the broker saw the late connection end');
});

test('an aborted sink step releases its connection (a recovery\'s next run does not meet it)', async (t) => {
  const url = await testBroker(t);
  const seen = await disconnects(await plainClient(t, url));
  const taskCtx = { taskId: { processor: 1, index: 0 }, parallelism: 1, log: silent, connectors: builtinConnectors, app: 'race', processorName: 'sink' } as unknown as TaskContext;
  const op = sinkOperator(mqttSink({ url, topic: 'race/aborted', clientId: 'aborted-sink', format: 'json' }))(() => undefined, taskCtx);
  await op.open!();
  op.push({ ts: 1, value: 1 });
  await op.abort!();
  t.true(await seen.seen('aborted-sink'), 'the connection ended with the abort');
});
