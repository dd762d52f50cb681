import type { MqttSinkOptions } from '../sink/mqtt-sink.js';
import type { ResolvedSourceOptions } from '../source/mqtt-source.js';
import type { Graph } from './graph.js';

/** The application (non-`trib/`) MQTT topics an application's connectors use. */
export interface DeclaredAppTopics {
  /** Topic filters its MQTT sources subscribe to (and its MQTT sinks read back: their markers). */
  readonly read: readonly string[];
  /** Topic names (or filters, for sink markers) its MQTT sinks publish to. */
  readonly write: readonly string[];
  /**
   * Processors whose MQTT sink picks its topic per result (a topic function): their topics cannot
   * be known from the plan. The master's ACL grants them nothing beyond `write`.
   */
  readonly dynamic: readonly string[];
}

/** Where an MQTT sink keeps its exactly-once markers (mirrors connectors/mqtt-sink.ts). */
export function sinkMarkerPrefix(o: { markerTopic?: string; topic: unknown }): string {
  return o.markerTopic ?? `tributary/sink-state/${typeof o.topic === 'string' ? o.topic : 'topic-fn'}`;
}

/**
 * The non-`trib/` topics an application's built-in MQTT sources read and MQTT sinks write
 * (plant-monitor: write `plant/windows`, and its markers `tributary/sink-state/plant/windows/+`,
 * read and write). Pure: from the plan's source and sink specs, nothing runs. The master plans
 * each submitted bundle (bundle-planner.ts) and uses this for the broker's application-topic ACL:
 * a node's connectors may touch only what the applications it hosts declare. Topics under `trib/`
 * are never listed (the fabric's own ACL rules govern them, an application gets no grant there).
 * Connectors with an explicit `url` are listed too: whether that URL is the fabric's broker is not
 * known here, and a grant on a topic the application names is harmless.
 */
export function declaredAppTopics(graph: Graph): DeclaredAppTopics {
  const read = new Set<string>();
  const write = new Set<string>();
  const dynamic: string[] = [];
  for (const p of graph.processors) {
    const src = p.source?.connector;
    if (src?.type === 'mqtt') for (const f of (src.options as ResolvedSourceOptions<unknown>).topics) read.add(f);
    for (const sink of p.sinks ?? []) {
      if (sink.connector?.type !== 'mqtt') continue;
      const o = sink.connector.options as MqttSinkOptions<unknown>;
      if (typeof o.topic === 'string') write.add(o.topic);
      else dynamic.push(p.name);
      const markers = `${sinkMarkerPrefix(o)}/+`;
      read.add(markers);
      write.add(markers);
    }
  }
  const appOnly = (s: Set<string>) => [...s].filter((t) => t !== 'trib' && !t.startsWith('trib/')).sort();
  return { read: appOnly(read), write: appOnly(write), dynamic };
}
