import type { AppManager } from './app-manager.js';
import type { NodeView } from './registry.js';
import type { DeviceStep, RolloutRecord } from './rollout-types.js';

/** What the rollout engine asks of the applications about their nodes (AppManager). */
export type RolloutApps = Pick<AppManager, 'bundleFor' | 'baseBundleOf' | 'hostsOf'>;

/** How long a node's part of an application must run, when it processes nothing, to count as healthy. */
export const APP_SETTLE_MS = 3000;

/** A device as one rollout sees it (RolloutManager.evaluate and advance). */
export interface Observed {
  online: boolean;
  /** What it runs of the rollout's target now, as far as the master knows (a step's `from`). */
  current?: string;
  /** What it reports running, healthy and settled (undefined: not settled yet). */
  version?: string;
  settled: boolean;
  /** It reports that the step's change failed, and why. */
  failure?: string;
  /** It cannot take this kind of change at all (the step fails at once). */
  cannot?: string;
  /** Its last report, in words (for a timed-out step's reason). */
  last: string;
}

/**
 * How each kind of rollout reads a device's reports (heartbeats, NodeView):
 * - agent: its updater's report (AgentUpdateReport): settled once not downloading or on trial,
 *   i.e. the new binary was committed after proving healthy, or the device went back;
 * - config: its remote configuration's report (AgentUpdateReport.config), the same way;
 * - app: the application's report from the node about a run on the new bundle (an epoch at least
 *   the step's, the recovery that switched it): running (or finished) and processing (a task of it
 *   there took in or put out records) or running for APP_SETTLE_MS without a break (`runningForMs`:
 *   how long the engine has seen it running in that epoch); failed with its error.
 * `fresh`: the device's report changed since the step started (an old failure is not this step's).
 */
export function observe(r: RolloutRecord, s: DeviceStep, n: NodeView | undefined, apps: RolloutApps | undefined, fresh: boolean, runningForMs: (epoch: number) => number = () => 0): Observed {
  const online = n?.online ?? false;
  if (r.kind === 'agent') {
    const rep = n?.agent;
    const settled = !!rep && rep.state !== 'trial' && rep.state !== 'downloading';
    return {
      online, current: rep?.version ?? n?.version, settled, ...(settled ? { version: rep.version } : {}),
      ...(rep && fresh && rep.target === r.version && rep.version !== r.version && ['failed', 'rolled-back', 'interrupted'].includes(rep.state)
        ? { failure: `${rep.state}: ${rep.reason ?? 'no reason given'}; the device runs ${rep.version}` } : {}),
      ...(rep && !rep.slots ? { cannot: 'the agent has no slots (not installed with install.sh): it cannot update itself' } : {}),
      last: rep ? `${rep.version} ${rep.state}${rep.reason ? `: ${rep.reason}` : ''}` : 'nothing',
    };
  }
  if (r.kind === 'config') {
    const rep = n?.agent?.config;
    const settled = !!rep && rep.state !== 'trial';
    return {
      online, current: rep?.version ?? 'none', settled, ...(settled ? { version: rep.version } : {}),
      ...(rep && fresh && rep.target === r.version && rep.version !== r.version && ['failed', 'rolled-back'].includes(rep.state)
        ? { failure: `${rep.state}: ${rep.reason ?? 'no reason given'}; the device runs configuration ${rep.version.slice(0, 12)}` } : {}),
      ...(n && !rep ? { cannot: 'the agent takes no remote configuration (an agent version before them, or not an agent)' } : {}),
      last: rep ? `${rep.version.slice(0, 12)} ${rep.state}${rep.reason ? `: ${rep.reason}` : ''}` : 'nothing',
    };
  }
  const app = r.app!;
  const current = apps?.bundleFor(app, s.node);
  const rep = n?.apps[app];
  const cannot = current === undefined ? `the node no longer hosts ${app}` : undefined;
  const last = rep ? `epoch ${rep.epoch} ${rep.state}${rep.error ? `: ${rep.error}` : ''}` : 'nothing';
  if (s.epoch === undefined || !rep || rep.epoch < s.epoch) return { online, ...(current ? { current } : {}), settled: false, ...(cannot ? { cannot } : {}), last };
  if (rep.state === 'failed') return { online, ...(current ? { current } : {}), settled: true, failure: `the application failed on the new bundle: ${rep.error ?? 'no reason given'}`, last };
  // Processing, or running without a break for a while: a node whose tasks get no input (a
  // late-data sink) has nothing to show but that it runs.
  const processing = rep.state === 'finished' || (rep.state === 'running' && ((rep.tasks ?? []).some((t) => t.in + t.out > 0) || runningForMs(rep.epoch) >= APP_SETTLE_MS));
  return { online, ...(current ? { current } : {}), settled: processing, ...(processing && current ? { version: current } : {}), ...(cannot ? { cannot } : {}), last };
}
