/**
 * Everything a host process needs (workers, agents, the master, the CLI, tests): the application
 * API and the layers below the composition roots. Applications import `tributary` (./api) only.
 */
export * from './api/index.js';
export { createLogger } from './log/log.js';
export { LocalRuntime, type LocalRuntimeOptions, type RunSummary, type ProcessorSummary } from './runtime/local-runtime.js';
export type { TaskMetrics } from './runtime/task-metrics.js';
export { AppRuntime, type AppRuntimeOptions, type WireStats } from './runtime/app-runtime.js';
export { DEFAULT_REMOTE_CREDITS } from './runtime/remote-channel.js';
export { ReceiveChannel, type ReceiveVerdict } from './runtime/receive-channel.js';
export { FrameReceiver, type Receipt } from './runtime/frame-receiver.js';
export { buildTopology, type Topology, type TopologyOptions } from './runtime/topology.js';
export * from './config/index.js';
export * from './wire/assignment.js';
export * from './wire/codec.js';
export * from './wire/topics.js';
export * from './wire/bundle-signature.js';
export type { QoS, PublishOptions, MessageHandler, Transport, TransportMessage, TransportOptions, TransportStatus } from './wire/transport.js';
export { MemoryBroker, type Delivery, type Fault } from './wire/memory-broker.js';
export { MemoryTransport, type MemoryTransportOptions } from './wire/memory-transport.js';
export * from './mqtt/index.js';
export { builtinConnectors, createConnectors, LOCAL_BROKER_URL, type HostBroker, type MqttConnectSettings } from './connectors/index.js';
export { MqttSource } from './connectors/mqtt-source.js';
export * from './node/index.js';
export { systemClock, type Clock, type Timer } from './runtime/wall-clock.js';
export { decodeControl, type ControlKind, type Decoded } from './wire/control.js';
export { AGENT_SIGNATURE_DOMAIN, CONFIG_SIGNATURE_DOMAIN, agentSigningPayload, configSigningPayload } from './wire/agent-signature.js';
export { signPayload, verifyPayload } from './wire/signed-digest.js';
