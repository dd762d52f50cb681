import { mulberry32 } from '@tributary/shared';

export const FAULT_KINDS = ['worker', 'agent', 'master', 'broker', 'postgres'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];
/** What may be killed by default: the cluster's processes (`postgres` only with `--sink postgres`). */
export const CLUSTER_FAULT_KINDS: readonly FaultKind[] = ['worker', 'agent', 'master', 'broker'];

/** One planned kill. Times are relative: the schedule is a pure function of the seed. */
export interface Fault {
  kind: FaultKind;
  /** The process to kill: a worker or agent id, 'master', 'broker' or 'postgres' (an immediate stop: a crash). */
  target: string;
  /** Wall-clock wait before the kill, counted from the moment the previous kill recovered (or the app first ran). */
  gapMs: number;
  /** How long the killed process stays down before its supervisor restarts it. */
  downMs: number;
}

export interface FaultPlanOptions {
  seed: number;
  kills: number;
  kinds: readonly FaultKind[];
  workers: readonly string[];
  agents: readonly string[];
  /** Range of gapMs, default 1-3 s. */
  gapMs?: readonly [number, number];
  /** Range of downMs, default 0.5-3 s. */
  downMs?: readonly [number, number];
}

/**
 * The seeded schedule of kills: which kind, which process, when (after the previous recovery) and
 * for how long. Same seed and options, same schedule; what the cluster does in between is not
 * seeded (it is what is measured).
 */
export function planFaults(o: FaultPlanOptions): Fault[] {
  if (!Number.isSafeInteger(o.kills) || o.kills < 0) throw new TypeError(`kills must be an integer >= 0, got ${o.kills}`);
  if (o.kinds.length === 0) throw new TypeError('at least one fault kind is needed');
  for (const k of o.kinds) if (!FAULT_KINDS.includes(k)) throw new TypeError(`unknown fault kind ${JSON.stringify(k)} (expected ${FAULT_KINDS.join(', ')})`);
  const rnd = mulberry32(o.seed ^ 0x5eed_c4a0);
  const between = ([lo, hi]: readonly [number, number]) => Math.round(lo + rnd() * (hi - lo));
  const pick = <T>(xs: readonly T[]): T => xs[Math.min(xs.length - 1, Math.floor(rnd() * xs.length))];
  const faults: Fault[] = [];
  for (let i = 0; i < o.kills; i++) {
    const kind = pick(o.kinds);
    const target = kind === 'worker' ? pick(o.workers) : kind === 'agent' ? pick(o.agents) : kind;
    faults.push({ kind, target, gapMs: between(o.gapMs ?? [1000, 3000]), downMs: between(o.downMs ?? [500, 3000]) });
  }
  return faults;
}

export function parseKinds(list: string): FaultKind[] {
  const kinds = list.split(',').map((k) => k.trim()).filter(Boolean);
  for (const k of kinds) if (!(FAULT_KINDS as readonly string[]).includes(k)) throw new TypeError(`--kinds: unknown kind ${JSON.stringify(k)} (expected ${FAULT_KINDS.join(', ')})`);
  if (kinds.length === 0) throw new TypeError('--kinds: at least one kind');
  return kinds as FaultKind[];
}
