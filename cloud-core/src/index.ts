export { Master } from './master/master.js';
export { runMaster } from './master/main.js';
export { runWorker } from './worker/main.js';
export { DEFAULT_BROKER_LIMITS, startEmbeddedBroker, type BrokerLimits, type BrokerStats, type EmbeddedBroker } from './broker/index.js';
export { staticAuthenticator, type BrokerAuthenticator, type Principal, type Role } from './broker/index.js';
export { Pki, principalOf, writeMosquittoConfig } from './pki/index.js';
