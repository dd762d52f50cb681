import type { Logger } from '../api/logger.js';

/**
 * The seam between Tributary and a publish/subscribe broker. The runtime, the edge agent and the
 * cloud nodes talk to each other only through this interface and the topic builders in
 * `topics.ts`; no MQTT type leaks past it, so an implementation over another broker protocol (or
 * an in-memory one for tests) can replace `MqttTransport`. Every implementation runs the
 * conformance suite in test/transport.test.ts.
 *
 * Delivery contract: QoS 1 is at-least-once between a client and the broker only. A broker may
 * still drop or duplicate under load or across restarts (see FACTS.md: Mosquitto drops QoS 1 to
 * slow subscribers), so callers keep their own sequence numbers and credits.
 */

export type QoS = 0 | 1;

export interface PublishOptions {
  /** Default 0. */
  qos?: QoS;
  /** Default false. */
  retain?: boolean;
}

/** Receives every message of every subscription of the transport; filter with `matchesFilter`. */
export type MessageHandler = (topic: string, payload: Buffer) => void;

/**
 * `connected`: connected and every subscription restored; `offline`: the connection was lost (or
 * never made); `reconnecting`: an attempt to reconnect has started.
 */
export type TransportStatus = 'connected' | 'offline' | 'reconnecting';

export interface Transport {
  /** The client id, which is the node id for agents and workers. */
  readonly clientId: string;
  readonly connected: boolean;
  /**
   * QoS 1 resolves when the broker acknowledged the message; QoS 0 when it was written. While
   * offline the message is queued in memory (unbounded: flow control must bound it) and sent on
   * reconnect. Rejects with TRIB_ERR_TRANSPORT_CLOSED if the transport is, or gets, closed first.
   */
  publish(topic: string, payload: Uint8Array | string, opts?: PublishOptions): Promise<void>;
  /**
   * Resolves when the broker granted every filter. Subscriptions are restored after each
   * reconnect; a call made while offline resolves after the next reconnect. Rejects with
   * TRIB_ERR_SUBSCRIBE_REFUSED (those filters are dropped) when the broker refuses a filter.
   */
  subscribe(filters: string | string[], qos?: QoS): Promise<void>;
  unsubscribe(filters: string | string[]): Promise<void>;
  /** Several handlers may be registered; returns the function that removes this one. */
  onMessage(handler: MessageHandler): () => void;
  /** Called on every status change; returns the function that removes the handler. */
  onStatus(handler: (status: TransportStatus) => void): () => void;
  /**
   * Graceful by default: pending QoS 1 publishes are flushed, then a DISCONNECT is sent (no last
   * will). `force` drops the connection at once without DISCONNECT, so the broker publishes the
   * last will. Idempotent: later calls return the first call's promise.
   */
  close(opts?: { force?: boolean }): Promise<void>;
}

/** A message the broker publishes for the client (last will) or the client on each connect (birth). */
export interface TransportMessage {
  topic: string;
  payload: Uint8Array | string;
  qos?: QoS;
  retain?: boolean;
}

export interface TransportOptions {
  /** Broker URL, e.g. `mqtt://127.0.0.1:1883`. */
  url: string;
  /** Node id (or `master`); must be a valid topic id, see `assertValidId`. */
  clientId: string;
  /** Optional credentials; the master connects with username `master` (see topics.ts). */
  username?: string;
  password?: string;
  /** TLS material (PEM) for `mqtts://`: the CA the broker's certificate must chain to, the client's certificate and key. */
  tls?: { ca?: string; cert?: string; key?: string; servername?: string; rejectUnauthorized?: boolean };
  /**
   * Called when, after the first connection, the broker refuses a reconnect for who the client is
   * (CONNACK identifier rejected, bad credentials, not authorized): e.g. the node's identity was
   * revoked. Retrying will not help; the transport keeps trying until closed.
   */
  onRefused?: (err: Error) => void;
  /** Published by the broker when the connection drops without DISCONNECT (or keepalive expires). */
  will?: TransportMessage;
  /**
   * Published by the transport after every (re)connect, e.g. a retained `online` status: the
   * counterpart of the will, so a node whose will fired during a network blip announces itself
   * again once it is back.
   */
  birth?: TransportMessage;
  /** MQTT keepalive. The broker declares the client dead after 1.5 × this. Default 5 s. */
  keepaliveSeconds?: number;
  /** Delay between reconnect attempts. Default 1000 ms. */
  reconnectMs?: number;
  /** MQTT clean session. Default true: subscriptions are restored by the transport itself. */
  cleanSession?: boolean;
  /** Bound on the first connection (connectMqttTransport). Default 10 000 ms. */
  connectTimeoutMs?: number;
  /** Bound on a graceful close flushing pending QoS 1 publishes before it forces. Default 5000 ms. */
  closeTimeoutMs?: number;
  log?: Logger;
}
