export type {
  QoS,
  PublishOptions,
  MessageHandler,
  Transport,
  TransportMessage,
  TransportOptions,
  TransportStatus,
} from './transport.js';
export { MqttTransport, connectMqttTransport } from './mqtt-transport.js';
export {
  topics,
  parseTopic,
  matchesFilter,
  isValidId,
  assertValidId,
  canPublish,
  canSubscribe,
  mosquittoAclFor,
  ACL_RULES,
  TOPIC_ROOT,
  MASTER_ID,
  MAX_ID_LENGTH,
  type ParsedTopic,
  type NodeTopicKind,
  type AclRule,
  type AclPrincipal,
} from './topics.js';
