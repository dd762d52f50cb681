import mqtt from 'mqtt';
import { cborEncoder, topics, type NodeHeartbeat, type NodeHello } from '@tributary/shared';
import { mqttLogin } from '../../cli/src/launcher.js';

export interface FakeAgent {
  /** Sends one heartbeat now (it also sends one every second by itself, as real nodes do). */
  beat(): Promise<void>;
  /** Disconnects cleanly (no last will); the master will see it time out later. */
  close(): Promise<void>;
}

/**
 * A light agent over MQTT as bench/dashboard.ts fakes its fleet: hello, `online`, and a heartbeat
 * made by `heartbeat()` every second. It runs no tasks; it lets a test put into a heartbeat what
 * real nodes may not send yet (a replay-log report).
 */
export async function fakeAgent(brokerUrl: string, id: string, labels: Record<string, string>, heartbeat: () => NodeHeartbeat): Promise<FakeAgent> {
  const c = await mqtt.connectAsync(brokerUrl, { protocolVersion: 4, clientId: id, username: id, ...(await mqttLogin(brokerUrl, id, 'agent')), keepalive: 30, will: { topic: topics.status(id), payload: Buffer.from('offline'), qos: 1, retain: true } });
  const hello: NodeHello = { kind: 'agent', labels, slots: 1, version: '0.0.0-fake', now: Date.now() };
  await c.publishAsync(topics.hello(id), Buffer.from(cborEncoder.encode(hello)), { qos: 1 });
  await c.publishAsync(topics.status(id), 'online', { qos: 1 });
  const beat = async () => {
    await c.publishAsync(topics.heartbeat(id), Buffer.from(cborEncoder.encode(heartbeat())), { qos: 1 });
  };
  await beat();
  const timer = setInterval(() => void beat().catch(() => {}), 1000);
  return {
    beat,
    async close() {
      clearInterval(timer);
      await c.endAsync();
    },
  };
}
