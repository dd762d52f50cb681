import type { NodeHealth } from '@tributary/shared';

/** How often a trial polls the node's health (ms). */
const POLL_MS = 250;

export interface TrialWatchOptions {
  health: () => NodeHealth;
  /** Healthy this long without a break: the trial succeeded. */
  healthyForMs: number;
  /** Wall-clock deadline of the trial (ms since the epoch). */
  deadlineMs: number;
  /** Proved healthy: commit. */
  healthy(): void;
  /** Not healthy by the deadline; `last` is the last health reason. */
  expired(last: string): void;
}

/**
 * The trial of something new on an agent — a binary (AgentUpdater) or a remote configuration
 * (RemoteConfig) — watched the same way: the node's health polled until it has held for
 * `healthyForMs` without a break, or the deadline passed. Exactly one of `healthy` and `expired`
 * is called, once; stop() ends the watch without either.
 */
export function watchTrial(o: TrialWatchOptions): { stop(): void } {
  let healthySince: number | null = null;
  let last = 'not checked yet';
  const timer = setInterval(() => {
    const h = o.health();
    last = h.reason;
    const now = Date.now();
    healthySince = h.ok ? healthySince ?? now : null;
    if (healthySince !== null && now - healthySince >= o.healthyForMs) {
      clearInterval(timer);
      o.healthy();
    } else if (now > o.deadlineMs) {
      clearInterval(timer);
      o.expired(last);
    }
  }, POLL_MS);
  return { stop: () => clearInterval(timer) };
}
