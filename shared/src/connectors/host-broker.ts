import { createHash, randomBytes } from 'node:crypto';
import type { MqttClientOptions } from '../mqtt/mqtt-client.js';

/** How a process connects to an MQTT broker: URL plus credentials and TLS material (mqtt-client.ts). */
export type MqttConnectSettings = Pick<MqttClientOptions, 'url' | 'username' | 'password' | 'tls'>;

/**
 * The cluster's broker as the node hosting an application reaches it: the node's own connection
 * settings (its URL, its TLS client certificate or per-device secret) and its id. NodeAgent passes
 * it down to the connectors of the applications it hosts (app-session.ts, through the thread's
 * workerData for thread isolation), so an MQTT source or sink without a `url` connects to the
 * fabric's broker with the hosting node's identity. Plain data: it crosses into worker threads.
 */
export interface HostBroker {
  readonly nodeId: string;
  readonly connection: MqttConnectSettings;
}

/** Where `tributary run` (no node, no cluster) connects an MQTT connector that names no URL. */
export const LOCAL_BROKER_URL = 'mqtt://127.0.0.1:1883';

/** Who a connector is, for its client id: the task it belongs to. */
export interface ConnectorTask {
  readonly role: 'source' | 'sink';
  readonly app?: string;
  readonly processor?: string;
  readonly taskIndex: number;
}

/**
 * The connection of an MQTT connector: its own `url` (an external broker: no node credentials go
 * there, its client id is its own `clientId` or a random one), or, without one, the host's broker
 * with the node's settings and a client id `<nodeId>.<app>.<role>-<processor hash>-<taskIndex>`:
 * the broker's client-id rule (security design) admits connections of node `x` only under ids `x`
 * or `x.…`; stable across restarts of the task, unique per task on the node. A fixed `clientId`
 * is put under the node's prefix as well. Without a host (`tributary run`): LOCAL_BROKER_URL.
 */
export function connectorConnection(url: string | undefined, clientId: string | undefined, host: HostBroker | undefined, task: ConnectorTask): MqttConnectSettings & { clientId: string } {
  if (url !== undefined) return { url, clientId: clientId ?? `trib-${task.role === 'sink' ? 'sink' : 'src'}-${task.taskIndex}-${randomBytes(4).toString('hex')}` };
  if (!host) return { url: LOCAL_BROKER_URL, clientId: clientId ?? `trib-${task.role === 'sink' ? 'sink' : 'src'}-${task.taskIndex}-${randomBytes(4).toString('hex')}` };
  const prefix = `${host.nodeId}.`;
  const own = clientId === undefined
    ? `${task.app ?? 'app'}.${task.role}-${createHash('sha256').update(task.processor ?? '').digest('hex').slice(0, 8)}-${task.taskIndex}`
    : clientId;
  return { ...host.connection, clientId: own.startsWith(prefix) ? own : `${prefix}${own}` };
}
