import { Buffer } from 'node:buffer';
import { connect, type IClientOptions, type MqttClient, type Packet } from 'mqtt';
import { ErrorCodes, TributaryError } from '../api/errors.js';
import type { Logger } from '../log/log.js';
import type { TransportMessage } from '../wire/transport.js';

/**
 * The one place where Tributary opens and closes an mqtt.js connection. Its users: MqttTransport
 * (the fabric's control and data plane), and the MQTT source and sink connectors. Each adds its
 * own behaviour on top (the transport its subscription restore and offline queue, the source its
 * back-pressure through `handleMessage`, the sink its exactly-once marker); connection options,
 * Nagle, the first-CONNACK errors and a bounded teardown are decided here once.
 */

/** TLS material for `mqtts://` URLs (filled in by the security work; passed to tls.connect). */
export interface MqttTlsOptions {
  /** CA certificate(s) the broker's certificate must chain to (PEM). */
  ca?: string | string[] | Buffer | Buffer[];
  /** Client certificate and key, for brokers that authenticate clients by certificate (PEM). */
  cert?: string | Buffer;
  key?: string | Buffer;
  /** Default true: the broker's certificate must verify. */
  rejectUnauthorized?: boolean;
  /** Server name for SNI and certificate checks, when the URL's host is an address. */
  servername?: string;
}

export interface MqttClientOptions {
  /** Broker URL: `mqtt://host:port`, or `mqtts://` with `tls`. */
  url: string;
  clientId: string;
  /** MQTT clean session. Default true. */
  clean?: boolean;
  /** MQTT keepalive; the broker declares the client dead after 1.5 × this. Default 30 s. */
  keepaliveSeconds?: number;
  /** Delay between mqtt.js's reconnect attempts. Default 1000 ms. */
  reconnectMs?: number;
  /** Bound on the first CONNACK (and on each later connect attempt). Default 10 000 ms. */
  connectTimeoutMs?: number;
  /** Published by the broker when the connection drops without DISCONNECT. */
  will?: TransportMessage;
  username?: string;
  password?: string;
  tls?: MqttTlsOptions;
  /** Let mqtt.js resubscribe after a reconnect (default true); MqttTransport does it itself. */
  resubscribe?: boolean;
  /**
   * Before the first CONNACK: true (connectors) rejects on the first error or close, so a wrong
   * URL fails at once; false (nodes, the master) keeps retrying every `reconnectMs` until
   * `connectTimeoutMs`, so a process may start before its broker. A refusal rejects either way.
   */
  failFast?: boolean;
  /** Who connects, for messages: `mqtt sink trib-sink-…`. Default `MQTT client <clientId>`. */
  what?: string;
  log?: Logger;
}

const DEFAULT_KEEPALIVE_SECONDS = 30;
const DEFAULT_RECONNECT_MS = 1000;
const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
/** Bound on a graceful end (DISCONNECT after in-flight packets) before the socket is destroyed. */
export const DEFAULT_CLOSE_TIMEOUT_MS = 5000;

/**
 * An mqtt.js client (MQTT 3.1.1, Nagle off on every socket, reconnecting on its own), connecting
 * from now on. Its 'error' events are logged at debug level (an unhandled one would crash the
 * process). Callers attach their handlers before returning to the event loop, then await
 * `firstConnack`; `connectMqttClient` does both.
 */
export function createMqttClient(o: MqttClientOptions): MqttClient {
  const what = describe(o);
  const tls = o.tls ?? {};
  const options: IClientOptions = {
    protocolVersion: 4, // aedes speaks MQTT 3.1.1 only
    clientId: o.clientId,
    clean: o.clean ?? true,
    keepalive: o.keepaliveSeconds ?? DEFAULT_KEEPALIVE_SECONDS,
    reconnectPeriod: o.reconnectMs ?? DEFAULT_RECONNECT_MS,
    connectTimeout: o.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
    resubscribe: o.resubscribe ?? true,
    // A refused CONNECT is retried like a lost connection; firstConnack reports the first one.
    reconnectOnConnackError: true,
    // mqtt-packet otherwise pre-builds a 2-byte Buffer for each of the 65,536 packet ids on the
    // first write: 6.5 MB of heap in every process (a third of an idle agent's), for no gain.
    writeCache: false,
    ...(o.username !== undefined ? { username: o.username } : {}),
    ...(o.password !== undefined ? { password: o.password } : {}),
    ...(o.will ? { will: { topic: o.will.topic, payload: toBuffer(o.will.payload), qos: o.will.qos ?? 1, retain: o.will.retain ?? false } } : {}),
    ...(tls.ca !== undefined ? { ca: tls.ca } : {}),
    ...(tls.cert !== undefined ? { cert: tls.cert } : {}),
    ...(tls.key !== undefined ? { key: tls.key } : {}),
    ...(tls.rejectUnauthorized !== undefined ? { rejectUnauthorized: tls.rejectUnauthorized } : {}),
    ...(tls.servername !== undefined ? { servername: tls.servername } : {}),
    // Not `manualConnect`: with it, mqtt.js re-arms its reconnect timer after end() when the
    // socket's 'close' comes late, and an ended client reconnects forever.
  };
  let client: MqttClient;
  try {
    client = connect(o.url, options);
  } catch (cause) {
    // mqtt.js throws synchronously on a URL it cannot use (unknown protocol, ...).
    throw new TributaryError(ErrorCodes.BROKER_UNREACHABLE, `${what}: cannot connect to ${o.url}: ${(cause as Error).message}`, { cause });
  }
  client.on('error', (err) => o.log?.debug({ err, clientId: o.clientId }, `${what}: MQTT client error`));
  // Nagle adds ~40 ms to small QoS 0 packets (FACTS.md). Every (re)connect opens a new socket:
  // the first exists already (Node applies the flag once it connects), later ones are created
  // just before their CONNECT packet is sent.
  const noDelay = () => (client.stream as { setNoDelay?: (on: boolean) => void } | undefined)?.setNoDelay?.(true);
  noDelay();
  client.on('packetsend', (packet: Packet) => {
    if (packet.cmd === 'connect') noDelay();
  });
  return client;
}

/**
 * Resolves on the client's first CONNACK. Rejects with TRIB_ERR_BROKER_REFUSED when the broker
 * refuses the connection (a CONNACK return code), and with TRIB_ERR_BROKER_UNREACHABLE on the
 * first error or close (`failFast`) or when no broker accepted within `connectTimeoutMs`. It does
 * not end the client: the caller does (`connectMqttClient` does).
 */
export async function firstConnack(client: MqttClient, o: MqttClientOptions): Promise<void> {
  if (client.connected) return;
  const what = describe(o);
  const timeoutMs = o.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
  let lastError: (Error & { code?: unknown }) | undefined;
  let timer: NodeJS.Timeout | undefined;
  let onError!: (err: Error & { code?: unknown }) => void;
  let onClose!: () => void;
  let onConnect!: () => void;
  try {
    await new Promise<void>((resolve, reject) => {
      const unreachable = (reason: string) =>
        reject(new TributaryError(ErrorCodes.BROKER_UNREACHABLE, `${what}: no MQTT broker reachable at ${o.url}: ${reason}`, { cause: lastError }));
      onConnect = () => resolve();
      onError = (err) => {
        lastError = err;
        // A CONNACK return code (number) is a refusal; socket errors have string codes.
        if (typeof err.code === 'number') {
          reject(new TributaryError(ErrorCodes.BROKER_REFUSED, `${what}: ${o.url} refused ${o.clientId}: ${err.message}`, { cause: err }));
        } else if (o.failFast) {
          unreachable(err.message);
        }
      };
      onClose = () => {
        if (o.failFast) unreachable(lastError?.message ?? 'the connection closed before the broker accepted it');
      };
      client.once('connect', onConnect);
      client.on('error', onError);
      client.on('close', onClose);
      timer = setTimeout(() => unreachable(`no CONNACK within ${timeoutMs} ms${lastError ? ` (${lastError.message})` : ''}`), timeoutMs);
    });
  } finally {
    clearTimeout(timer);
    client.removeListener('connect', onConnect);
    client.removeListener('error', onError);
    client.removeListener('close', onClose);
  }
}

/**
 * A connected client (see createMqttClient and firstConnack); `setup` runs before any packet is
 * processed, so handlers it attaches (`handleMessage`, 'message') miss nothing. On failure nothing
 * is left running. Later connection losses are logged (warn, then info once restored) and
 * repaired by mqtt.js.
 */
export async function connectMqttClient(o: MqttClientOptions, setup?: (client: MqttClient) => void): Promise<MqttClient> {
  const client = createMqttClient(o);
  setup?.(client);
  try {
    await firstConnack(client, o);
  } catch (err) {
    await endMqttClient(client, { force: true, log: o.log });
    throw err;
  }
  const what = describe(o);
  let online = true;
  client.on('close', () => {
    if (online && !client.disconnecting) o.log?.warn({ url: o.url }, `${what}: lost the MQTT connection, reconnecting`);
    online = false;
  });
  client.on('connect', () => {
    if (!online) o.log?.info({ url: o.url }, `${what}: MQTT connection restored`);
    online = true;
  });
  return client;
}

export interface EndMqttClientOptions {
  /** Destroy the socket without DISCONNECT (the broker then publishes the will). */
  force?: boolean;
  /** Bound on a graceful end; the socket is destroyed after it. Default 5000 ms. */
  timeoutMs?: number;
  log?: Logger;
}

/**
 * Ends a client: DISCONNECT once in-flight packets are written, within `timeoutMs`, destroying
 * the socket after that; forced (or when offline) at once. Never rejects; idempotent.
 */
export async function endMqttClient(client: MqttClient, o: EndMqttClientOptions = {}): Promise<void> {
  const ended = client.endAsync(o.force === true || !client.connected).then(
    () => true,
    (err: unknown) => {
      o.log?.debug({ err }, 'ending the MQTT client failed');
      return true;
    },
  );
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => (timer = setTimeout(resolve, o.timeoutMs ?? DEFAULT_CLOSE_TIMEOUT_MS, false)));
  const inTime = await Promise.race([ended, timeout]).finally(() => clearTimeout(timer));
  if (!inTime) {
    client.end(true);
    client.stream?.destroy();
  }
}

export const toBuffer = (payload: Uint8Array | string): Buffer =>
  typeof payload === 'string' ? Buffer.from(payload) : Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);

const describe = (o: MqttClientOptions): string => o.what ?? `MQTT client ${o.clientId}`;
