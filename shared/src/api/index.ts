/**
 * The application API: what applications import as `tributary`. Pure: no MQTT client, no
 * LevelDB, no logger implementation, no runtime. The process hosting an application supplies
 * this module to its bundle (bundles mark `tributary` external), so one copy runs per process.
 */
export * from './message.js';
export * from './errors.js';
export type { Logger, LogFn } from './logger.js';
export { API_VERSION, canHostApi } from './version.js';
export * from './task/task.js';
export { ChainTask } from './operators/chain-task.js';
export * from './partitioner/index.js';
export * from './clock/watermark.js';
export * from './clock/device-watermark.js';
export type { Source, SourceContext, SourceSpec } from './source/source.js';
export type { Sink, SinkContext, SinkSpec } from './sink/sink.js';
export { createSource, createSink, type Connectors, type ConnectorRef } from './connectors.js';
export { linesSource, type LinesSourceOptions } from './source/lines-source.js';
export { jsonLinesSource, type JsonLinesSourceOptions } from './source/json-lines-source.js';
export { mqttSource, type MqttSourceOptions, type MqttSourceStats, type MqttPayloadFormat } from './source/mqtt-source.js';
export { jsonLinesSink, stdoutSink } from './sink/json-lines-sink.js';
export { mqttSink, type MqttSinkOptions } from './sink/mqtt-sink.js';
export { postgresSink, type PostgresSinkOptions, type PostgresRow } from './sink/postgres-sink.js';
export { collectionSource, type CollectionSourceOptions } from './source/collection-source.js';
export { memorySink, type MemorySinkSpec } from './sink/memory-sink.js';
export { simulatedSensors, type SimulatedSensorsOptions, type SensorReading } from './source/simulated-sensor-source.js';
export { fleet, FleetGenerator, fleetMaxDelayMs, type FleetOptions, type FleetReading, type FleetPosition, type FleetPlacement, type FleetBursts, type FleetDisconnect, type FleetModel } from './source/fleet-source.js';
export * from './operators/aggregators.js';
export * from './operators/window-assigner.js';
export type { WindowResult } from './operators/window-operator.js';
export type { Operator, OperatorFactory, Emit } from './operators/operator.js';
export * from './dag/placement.js';
export { Graph, type ProcessorSpec, type EdgeSpec } from './dag/graph.js';
export { graph, processor, sourceProcessor, sinkProcessor, ProcessorDef, Path, type ProcessorOptions, type GraphOptions } from './dag/builder.js';
export { describePlan, planToJSON } from './dag/describe.js';
export { declaredAppTopics, type DeclaredAppTopics } from './dag/app-topics.js';
export { pipeline, Pipeline, Stream, KeyedStream, WindowedStream } from './dsl/stream.js';
export { Params } from './app/params.js';
export { resolveApp, type AppDefinition, type AppFactory } from './app/app-definition.js';
export { mulberry32 } from './util/prng.js';
