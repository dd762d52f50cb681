export { startEmbeddedBroker, type BrokerClientEvent, type EmbeddedBroker, type EmbeddedBrokerOptions } from './embedded-broker.js';
