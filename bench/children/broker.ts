/**
 * The master's embedded MQTT broker (aedes, cloud-core/src/broker/embedded-broker.ts) alone in
 * its own process on an ephemeral loopback port: what the transport and Node-RED baselines go
 * through. Prints { type: 'ready', url }; closes when stdin closes.
 */
import { createLogger } from '@tributary/shared';
import { startEmbeddedBroker } from '../../cloud-core/src/broker/embedded-broker.js';
import { send, serve } from './io.js';

// No publish-rate limit: the baselines measure the transport, and Node-RED relays one message per
// record, above the fabric's default flood cap of 20,000 publishes/s per client, which dropped
// (acknowledged) a few percent of its records whenever it ran at full speed.
const broker = await startEmbeddedBroker({ host: '127.0.0.1', port: 0, log: createLogger({ level: 'silent' }), limits: { maxPublishRate: 0 } });
send({ type: 'ready', url: broker.url });
serve(async () => {}, () => broker.close());
