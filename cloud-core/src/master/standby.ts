import type { BundleRef, StandbyApp } from '@tributary/shared';
import type { AppRecord } from './master-store.js';
import type { NodeView } from './registry.js';

/**
 * The `standby` part of a worker's desired state (hot standby, issue 14): every running
 * application with cloud tasks that the worker hosts none of. The worker keeps each one warm (its
 * bundle verified and evaluated in a thread, nothing running), so that when a recovery moves tasks
 * to it (AppManager.moveOffDeadWorkers) the run starts in that thread at once. Agents get none
 * (edge devices: memory), nor does an unknown node. Called by AppManager.publishDesired.
 */
export function standbyFor(
  node: NodeView | undefined, apps: Iterable<AppRecord>, hosts: (app: AppRecord) => boolean, bundle: (app: AppRecord) => BundleRef,
): StandbyApp[] {
  if (node?.kind !== 'worker') return [];
  const out: StandbyApp[] = [];
  for (const app of apps) {
    if (app.state !== 'running' || !app.plan.processors.some((p) => p.placement.where !== 'edge') || hosts(app)) continue;
    // The bundle the node would run (during an application rollout: the one its takeover would get).
    out.push({ app: app.id, epoch: app.epoch, params: app.params, submission: app.submittedAt, bundle: bundle(app) });
  }
  return out;
}

/**
 * What of `standby` tells one desired state from another (AppManager's unchanged-state check):
 * the submissions held, not their epochs (a recovery elsewhere changes nothing for the standby).
 */
export function standbySignature(standby: readonly StandbyApp[]): string {
  return standby.map((s) => `${s.app}:${s.submission}:${s.bundle.sha256}`).join(',');
}

/** The online workers: those whose standbys change when an application starts or ends. */
export function onlineWorkers(nodes: readonly NodeView[]): string[] {
  return nodes.filter((n) => n.kind === 'worker' && n.online).map((n) => n.id);
}
