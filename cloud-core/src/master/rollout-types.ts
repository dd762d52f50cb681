import type { DeclaredAppTopics } from '@tributary/shared';
import type { PlanJson } from './plan-json.js';

/**
 * Fleet rollouts (issue 16): what the master stores about one (MasterStore.putRollout) and the
 * pure parts of planning it. The engine is rollout-manager.ts; the REST API rollout-routes.ts;
 * the CLI `tributary fleet rollout|status` (cli/src/commands/rollout.ts).
 */

/** A device step's state. Terminal: every step ends in one of these, with a reason. */
export type StepState =
  | 'pending' | 'updating' | 'rolling-back'
  | 'succeeded' | 'failed' | 'timed-out' | 'rolled-back' | 'cancelled' | 'superseded';

export const TERMINAL_STEP_STATES: readonly StepState[] = ['succeeded', 'failed', 'timed-out', 'rolled-back', 'cancelled', 'superseded'];

export function isTerminal(s: StepState): boolean {
  return TERMINAL_STEP_STATES.includes(s);
}

export interface DeviceStep {
  node: string;
  /** Index into RolloutRecord.waves (0 = the canary). */
  wave: number;
  /** The version it ran when its wave started (where a rollback goes). */
  from?: string;
  state: StepState;
  reason?: string;
  /** The version this rollout currently asks the device to run (the target, or `from` when rolling back). */
  desired?: string;
  startedAt?: number;
  endedAt?: number;
  /** Application rollouts: the application's epoch in which this device first ran `desired`. */
  epoch?: number;
  /** Bytes the master sent this device during the step (downloads of the binary or bundle; the configuration). */
  bytes?: number;
  /** The device's byte counter when the step started (DeviceTraffic). */
  bytesAt?: number;
}

/** What a rollout rolls out: an agent binary, an application's bundle, or an agent configuration. */
export type RolloutKind = 'agent' | 'app' | 'config';

export type RolloutState = 'running' | 'aborting' | 'succeeded' | 'aborted' | 'superseded';

/** How a rollout proceeds, whatever it rolls out. */
export interface RolloutPolicy {
  selector: Record<string, string>;
  canary: number;
  waves: { base: number; factor: number };
  /** Abort when failed or timed-out steps exceed this share (percent) of the steps started. */
  maxFailuresPercent: number;
  stepTimeoutMs: number;
}

/** What POST /rollouts asks for (RolloutManager.create). */
export type RolloutRequest = RolloutPolicy & (
  | { kind: 'agent'; version: string }
  | { kind: 'app'; app: string; bundle: Uint8Array }
  | { kind: 'config'; config: Record<string, unknown> }
);

export interface RolloutSpec extends RolloutPolicy {
  kind: RolloutKind;
  /**
   * What devices end up running: the agent version (a directory of the master's agent dir, as
   * GET /agent/<version>/… serves); the new bundle's SHA-256 (app); the configuration's SHA-256 (config).
   */
  version: string;
  /** app: the application whose bundle is rolled out. */
  app?: string;
  /** app: the new bundle (stored by the master) and what it planned of it. */
  bundle?: { sha256: string; signature?: string; plan: PlanJson; appTopics?: DeclaredAppTopics; bytes: number };
  /** config: the configuration's JSON text (its UTF-8 bytes hash to `version`). */
  config?: string;
}

export interface RolloutRecord extends RolloutSpec {
  id: string;
  createdAt: number;
  state: RolloutState;
  reason?: string;
  /** Node ids per wave, canary first. */
  plan: string[][];
  /** The wave in progress (or the last one). */
  wave: number;
  steps: Record<string, DeviceStep>;
  endedAt?: number;
}

/**
 * The canary, then waves of base, base·factor, base·factor², … devices, in sorted order
 * (reproducible) unless `ordered` (the caller's order: application rollouts put edge devices first).
 */
export function planWaves(nodes: readonly string[], canary: number, base: number, factor: number, ordered = false): string[][] {
  const sorted = ordered ? [...nodes] : [...nodes].sort();
  const plan: string[][] = [];
  let i = Math.min(canary, sorted.length);
  if (i > 0) plan.push(sorted.slice(0, i));
  let size = base;
  while (i < sorted.length) {
    const n = Math.max(1, Math.round(size));
    plan.push(sorted.slice(i, i + n));
    i += n;
    size *= factor;
  }
  return plan;
}

/** Counts of the steps by state, and the share that failed among those started. */
export function tally(r: RolloutRecord): { byState: Partial<Record<StepState, number>>; started: number; failed: number } {
  const byState: Partial<Record<StepState, number>> = {};
  let started = 0;
  let failed = 0;
  for (const s of Object.values(r.steps)) {
    byState[s.state] = (byState[s.state] ?? 0) + 1;
    if (s.startedAt !== undefined) started++;
    if (s.state === 'failed' || s.state === 'timed-out') failed++;
  }
  return { byState, started, failed };
}

/** What a rollout is about, as people say it: `agent v2`, `app plant-monitor 3f2a…`, `config 9c1e…`. */
export function describeTarget(r: Pick<RolloutSpec, 'kind' | 'version' | 'app'>): string {
  if (r.kind === 'agent') return `agent ${r.version}`;
  return r.kind === 'app' ? `app ${r.app} ${r.version.slice(0, 12)}` : `config ${r.version.slice(0, 12)}`;
}
