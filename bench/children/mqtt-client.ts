/** An mqtt.js client as Tributary's transport uses it: MQTT 3.1.1, Nagle off (FACTS.md). */
import mqtt from 'mqtt';

export async function connect(url: string, clientId: string): Promise<mqtt.MqttClient> {
  const client = await mqtt.connectAsync(url, { protocolVersion: 4, clientId, clean: true, keepalive: 60, reconnectPeriod: 0 });
  (client.stream as { setNoDelay?: (on: boolean) => void } | undefined)?.setNoDelay?.(true);
  return client;
}
