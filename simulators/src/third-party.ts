import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { connectAsync, type MqttClient } from 'mqtt';
import { cborEncoder, FleetGenerator, type FleetOptions, type FleetReading, type Message } from '@tributary/shared';

export interface ThirdPartyDevicesOptions extends Omit<FleetOptions, 'devices' | 'paced' | 'maxDelayMs'> {
  /** Broker URL, e.g. `mqtt://127.0.0.1:1883`. */
  url: string;
  /** Number of devices (ids `${idPrefix}-d${i}`) or explicit ids. Default 10. */
  devices?: number | readonly string[];
  /** Prefix of generated device ids (default `sensor`). */
  idPrefix?: string;
  /**
   * Topic of each message: a function of the device id (and sensor), or a template where
   * `{device}` and `{sensor}` are replaced, e.g. `devices/{device}/telemetry`.
   */
  topic: string | ((device: string, sensor: string) => string);
  /** Payload encoding: plain JSON text (default) or plain CBOR (a map, no extensions). */
  format?: 'json' | 'cbor';
  /** Publish QoS (default 1). */
  qos?: 0 | 1;
  /** Publish in step with the wall clock, as real sensors would. Default: true when unbounded. */
  paced?: boolean;
  /** Most QoS 1 publishes awaiting PUBACK at once (default 1,000): the publisher's window. */
  maxInFlight?: number;
  /** MQTT client id (default `trib-sim-<random>`). */
  clientId?: string;
}

export interface ThirdPartyDevices {
  /** Resolves with the number published once every record is published (and acknowledged at QoS 1) or stop() was called. */
  readonly done: Promise<number>;
  /** Messages published (and acknowledged at QoS 1) so far. */
  readonly published: number;
  /** Stops publishing after the current window, disconnects, and resolves once `done` has settled. */
  stop(): Promise<void>;
}

/**
 * Third-party devices: a fleet that publishes one reading per MQTT message, JSON or CBOR, with a
 * plain mqtt.js client and no Tributary framing, as real sensors do; an application ingests them
 * with `mqttSource`. The readings (values, timestamps, order, disconnect backlogs) are those of
 * `fleet` / `fleetPlan` for the same options, with node id `idPrefix`. One connection carries all
 * devices (a fleet behind a gateway); resolves once connected.
 */
export async function startThirdPartyDevices(options: ThirdPartyDevicesOptions): Promise<ThirdPartyDevices> {
  const { url, idPrefix = 'sensor', topic, format = 'json', qos = 1, maxInFlight = 1000, clientId, paced: pacedOption, ...fleetOptions } = options;
  if (typeof url !== 'string' || url.length === 0) throw new TypeError('startThirdPartyDevices: url must be a broker URL');
  if (typeof topic !== 'string' && typeof topic !== 'function') throw new TypeError('startThirdPartyDevices: topic must be a template string or a function');
  if (format !== 'json' && format !== 'cbor') throw new TypeError("startThirdPartyDevices: format must be 'json' or 'cbor'");
  if (qos !== 0 && qos !== 1) throw new TypeError('startThirdPartyDevices: qos must be 0 or 1');
  if (!(Number.isSafeInteger(maxInFlight) && maxInFlight >= 1)) throw new TypeError('startThirdPartyDevices: maxInFlight must be an integer >= 1');
  const paced = pacedOption ?? options.count === undefined;
  const gen = new FleetGenerator(fleetOptions, { nodeId: idPrefix, startTs: options.startTs ?? Date.now() });
  const topicOf = topicFunction(topic);
  const encode = format === 'json' ? (r: FleetReading) => JSON.stringify(r) : (r: FleetReading) => cborEncoder.encode(r);

  const client = await connectAsync(url, { protocolVersion: 4, clientId: clientId ?? `trib-sim-${randomBytes(6).toString('hex')}`, reconnectPeriod: 1000 });
  let published = 0;
  let stopping = false;

  const run = async (): Promise<number> => {
    const wallStart = Date.now();
    const tsStart = gen.nextTickTs();
    while (!stopping && !gen.ended) {
      const batch: Message<FleetReading>[] = [];
      const due = paced ? tsStart + (Date.now() - wallStart) : Infinity;
      gen.fill(batch, maxInFlight, due);
      if (batch.length === 0) {
        if (!gen.ended) await sleep(Math.max(1, Math.min(1000, gen.nextTickTs() - due)));
        continue;
      }
      await Promise.all(batch.map((m) => client.publishAsync(topicOf(m.value.device, m.value.sensor), encode(m.value), { qos })));
      published += batch.length;
    }
    return published;
  };
  const done = run().finally(() => client.endAsync());
  return {
    done,
    get published() {
      return published;
    },
    async stop() {
      stopping = true;
      await done.catch(() => undefined);
    },
  };
}

function topicFunction(topic: string | ((device: string, sensor: string) => string)): (device: string, sensor: string) => string {
  const cache = new Map<string, string>();
  const make = typeof topic === 'function' ? topic : (device: string, sensor: string) => topic.replaceAll('{device}', device).replaceAll('{sensor}', sensor);
  return (device, sensor) => {
    const k = `${device}\u0000${sensor}`;
    let t = cache.get(k);
    if (t === undefined) cache.set(k, (t = make(device, sensor)));
    return t;
  };
}
