/**
 * The master's embedded MQTT broker (aedes, cloud-core/src/broker/embedded-broker.ts) alone in
 * its own process on an ephemeral loopback port: what the transport and Node-RED baselines go
 * through. Prints { type: 'ready', url }; closes when stdin closes.
 */
import { createLogger } from '@tributary/shared';
import { startEmbeddedBroker } from '../../cloud-core/src/broker/embedded-broker.js';
import { send, serve } from './io.js';

const broker = await startEmbeddedBroker({ host: '127.0.0.1', port: 0, log: createLogger({ level: 'silent' }) });
send({ type: 'ready', url: broker.url });
serve(async () => {}, () => broker.close());
