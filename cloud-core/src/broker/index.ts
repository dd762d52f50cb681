export { startEmbeddedBroker, type BrokerClientEvent, type EmbeddedBroker, type EmbeddedBrokerOptions } from './embedded-broker.js';
export { DEFAULT_BROKER_LIMITS, type BrokerLimits, type BrokerStats, type RefusalReason } from './broker-limits.js';
