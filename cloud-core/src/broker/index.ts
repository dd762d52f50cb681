export {
  startEmbeddedBroker, type BrokerClientEvent, type BrokerTlsOptions, type EmbeddedBroker, type EmbeddedBrokerOptions,
} from './embedded-broker.js';
export { DEFAULT_BROKER_LIMITS, type BrokerLimits, type BrokerStats, type RefusalReason } from './broker-limits.js';
export {
  certificateCommonName, hashSecret, ROLES, secretMatches, staticAuthenticator,
  type AppTopicGrants, type BrokerAuthenticator, type Principal, type Role, type StaticAuthenticator, type StaticAuthenticatorOptions,
} from './broker-auth.js';
