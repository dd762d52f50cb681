import { Worker } from 'node:worker_threads';
import { AppError, ErrorCodes } from '../api/errors.js';
import type { DeclaredAppTopics } from '../api/dag/app-topics.js';
import type { planToJSON } from '../api/dag/describe.js';

/** The plan of a bundle, as `tributary plan --json` prints it. */
export type BundlePlan = ReturnType<typeof planToJSON>;

/** @internal What the plan thread gets and answers (plan-thread.ts). */
export interface PlanThreadData {
  bundle: Uint8Array;
  params: Record<string, string>;
  filename: string;
}
export type PlanThreadResult =
  | { ok: true; plan: BundlePlan; appTopics: DeclaredAppTopics }
  | { ok: false; code?: string; message: string };

export interface PlanLimits {
  /** Heap cap of the thread, MB (default 128). */
  heapMb?: number;
  /** Time limit for evaluating and planning, ms (default 10 s). */
  timeoutMs?: number;
}

const threadEntry = import.meta.url.endsWith('.ts')
  ? new URL('./plan-thread-entry.mjs', import.meta.url)
  : new URL('./plan-thread.mjs', import.meta.url);

/**
 * Plans an application bundle the way a node will run it, away from the caller's thread: the
 * master calls it for every submission (app-manager.ts) and schedules from this plan, not from
 * the one the client sent. The bundle runs in a worker thread with a heap cap (resourceLimits),
 * an empty environment (no secrets of the master's leak into user code) and a time limit (the
 * thread is terminated); anything that goes wrong is an AppError with TRIB_ERR_PLAN_MISMATCH, or
 * the bundle's own code (TRIB_ERR_APP_INVALID, TRIB_ERR_API_VERSION, …).
 */
export async function planBundle(bundle: Uint8Array, params: Readonly<Record<string, string>>, limits: PlanLimits = {}): Promise<{ plan: BundlePlan; appTopics: DeclaredAppTopics }> {
  const heapMb = limits.heapMb ?? 128;
  const timeoutMs = limits.timeoutMs ?? 10_000;
  const data: PlanThreadData = { bundle, params: { ...params }, filename: 'submitted-bundle.js' };
  const worker = new Worker(threadEntry, {
    workerData: data, env: {}, stdout: true, stderr: true,
    resourceLimits: { maxOldGenerationSizeMb: heapMb, maxYoungGenerationSizeMb: Math.min(32, Math.max(4, heapMb >> 3)) },
  });
  // What the application prints while planned is not the master's output.
  worker.stdout.resume();
  worker.stderr.resume();
  let timer: NodeJS.Timeout | undefined;
  try {
    const result = await new Promise<PlanThreadResult>((resolve, reject) => {
      timer = setTimeout(() => reject(new AppError(ErrorCodes.PLAN_MISMATCH, `planning the bundle took longer than ${timeoutMs} ms: refused`)), timeoutMs);
      worker.once('message', (m: PlanThreadResult) => resolve(m));
      worker.once('error', (err: Error & { code?: string }) => {
        const why = err.code === 'ERR_WORKER_OUT_OF_MEMORY' ? `it needs more than ${heapMb} MB of heap` : err.message;
        reject(new AppError(ErrorCodes.PLAN_MISMATCH, `planning the bundle failed: ${why}`, { cause: err }));
      });
      worker.once('exit', (code) => reject(new AppError(ErrorCodes.PLAN_MISMATCH, `planning the bundle failed: its thread exited (${code}) without a plan`)));
    });
    if (!result.ok) {
      const code = Object.values(ErrorCodes).find((c) => c === result.code) ?? ErrorCodes.APP_INVALID;
      throw new AppError(code, result.message);
    }
    return { plan: result.plan, appTopics: result.appTopics };
  } finally {
    clearTimeout(timer);
    await worker.terminate();
  }
}
