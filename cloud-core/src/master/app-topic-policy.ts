import { filterCoveredBy, matchesFilter } from '@tributary/shared';
import type { AppRecord } from './master-store.js';

/**
 * The broker's rule for application (non-`trib/`) topics on agents and workers (issue 13): a node
 * may publish on a topic, or subscribe to a filter, only when a running application with tasks on
 * that node declares it in its plan (declaredAppTopics, computed by the master from the bundle it
 * planned itself, bundle-check.ts). Its MQTT connectors connect as `<node>.…` with the node's
 * identity, so this is what confines plant-monitor's sink to `plant/windows` and its markers.
 * Called by the device registry (BrokerAuthenticator.mayUseAppTopic) on every such publish and
 * subscription; applications are few, so a scan is cheap.
 */
export function appTopicAllowed(apps: Iterable<AppRecord>, nodeId: string, access: 'read' | 'write', topicOrFilter: string): boolean {
  for (const app of apps) {
    if (app.state !== 'running') continue;
    if (!app.tasks.some((t) => t.node === nodeId)) continue;
    // A node an application rollout reached runs the new bundle: its declarations hold there.
    const topics = app.candidate?.nodes.includes(nodeId) ? app.candidate.appTopics : app.appTopics;
    if (!topics) continue;
    const declared = access === 'write' ? topics.write : topics.read;
    for (const pattern of declared) {
      if (access === 'write' ? matchesFilter(pattern, topicOrFilter) : filterCoveredBy(topicOrFilter, pattern)) return true;
    }
  }
  return false;
}
