import test from 'ava';
import { builtinConnectors, createSink, mqttSink, type SinkContext } from '@tributary/shared';
import { plainClient, silent, testBroker } from './helpers/mqtt.js';

/**
 * A task aborted while its MQTT sink is still connecting (a new epoch came: a master restart
 * starts several in a row) must not leave that connection behind. Left open, it reconnected for
 * ever under the client id the next run's sink takes, and the two threw each other off the
 * broker in turn until the new one's exactly-once marker read timed out and the application
 * failed (seen in the recovery benchmark's master kills). The broker's own `$SYS` events say when
 * the sink's client has gone.
 */
test('an MQTT sink closed while it connects ends that connection once it is up', async (t) => {
  const url = await testBroker(t);
  const observer = await plainClient(t, url);
  const gone: string[] = [];
  let wake: (() => void) | null = null;
  observer.on('message', (topic, payload) => {
    if (!topic.endsWith('/disconnect/clients')) return;
    gone.push(payload.toString());
    wake?.();
  });
  await observer.subscribeAsync('$SYS/+/disconnect/clients', { qos: 0 });

  const sink = createSink(mqttSink({ url, topic: 'race/results', clientId: 'race-sink', format: 'json' }), builtinConnectors);
  const ctx: SinkContext = { taskIndex: 0, parallelism: 1, log: silent, exactlyOnce: true, resume: true, app: 'race', processor: 'sink' };
  const opening = sink.open?.(ctx);
  // The abort comes before the CONNACK.
  await sink.close?.();
  await opening;
  while (!gone.includes('race-sink')) await new Promise<void>((resolve) => (wake = resolve));
  t.true(gone.includes('race-sink'), 'the broker saw the late connection end');
});
