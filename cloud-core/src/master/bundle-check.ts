import type { KeyObject } from 'node:crypto';
import { AppError, ErrorCodes, planBundle, sha256, signBundleDigest, type DeclaredAppTopics, type Logger, type PlanLimits } from '@tributary/shared';
import type { PlanJson } from './master-store.js';

/** What the master makes of a submitted bundle before it stores and places anything. */
export interface CheckedBundle {
  /** The plan of the bundle with the submission's params (never the client's). */
  plan: PlanJson;
  appTopics: DeclaredAppTopics;
  sha256: string;
  /** The master's signature over the digest (base64); absent without a signing key. */
  signature?: string;
  /** How long planning took, ms (for the log). */
  planMs: number;
}

/**
 * Called by AppManager.submit for every submission: plans the bundle in a capped worker thread
 * (bundle-planner.ts), refuses a client plan that differs (TRIB_ERR_PLAN_MISMATCH: the client and
 * the bundle disagree, or someone tries to get placed what the bundle does not run), and signs the
 * bundle's digest with the master's key (Ed25519, bundle-signature.ts) for the nodes to verify.
 */
export async function checkBundle(
  bundle: Uint8Array, params: Readonly<Record<string, string>>, clientPlan: PlanJson | undefined,
  security: { signingKey?: KeyObject; planLimits?: PlanLimits }, log: Logger,
): Promise<CheckedBundle> {
  const start = performance.now();
  const derived = await planBundle(bundle, params, security.planLimits);
  const planMs = Math.round(performance.now() - start);
  if (clientPlan && canonicalJson(clientPlan) !== canonicalJson(derived.plan)) {
    log.warn({ app: clientPlan.app, derived: derived.plan.app }, 'submission refused: its plan is not the plan of its bundle');
    throw new AppError(ErrorCodes.PLAN_MISMATCH, `the submitted plan of ${clientPlan.app} is not the plan of its bundle (planned by the master with the same params): refused`);
  }
  const sha = sha256(bundle);
  const key = security.signingKey;
  return { plan: derived.plan as PlanJson, appTopics: derived.appTopics, sha256: sha, ...(key ? { signature: signBundleDigest(key, sha) } : {}), planMs };
}

/** JSON with object keys sorted (and undefined members dropped), for comparing plans whatever order their keys came in. */
export function canonicalJson(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) => (x && typeof x === 'object' && !Array.isArray(x)
    ? Object.fromEntries(Object.entries(x as Record<string, unknown>).filter(([, y]) => y !== undefined).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
    : x));
}
