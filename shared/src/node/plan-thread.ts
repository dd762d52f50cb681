/**
 * Entry point of the worker thread in which the master plans a submitted bundle (bundle-planner.ts):
 * evaluates the bundle with the host's API, resolves it with the submission's params, and posts
 * the plan (planToJSON) and the application topics it declares. User code runs here, not on the
 * master's own thread: the thread has a heap cap, an empty environment and a time limit.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { resolveApp } from '../api/app/app-definition.js';
import { Params } from '../api/app/params.js';
import { declaredAppTopics } from '../api/dag/app-topics.js';
import { planToJSON } from '../api/dag/describe.js';
import { evaluateBundle } from './app-bundle.js';
import type { PlanThreadData, PlanThreadResult } from './bundle-planner.js';

const data = workerData as PlanThreadData;
let result: PlanThreadResult;
try {
  const code = new TextDecoder().decode(data.bundle);
  const graph = await resolveApp(evaluateBundle(code, data.filename), new Params({ ...data.params }), data.filename);
  // Through JSON: plain data only crosses back (a placement selector left undefined disappears, as on the wire).
  result = { ok: true, plan: JSON.parse(JSON.stringify(planToJSON(graph))), appTopics: declaredAppTopics(graph) };
} catch (err) {
  const e = err as { code?: unknown; message?: unknown };
  result = { ok: false, code: typeof e?.code === 'string' ? e.code : undefined, message: typeof e?.message === 'string' ? e.message : String(err) };
}
parentPort!.postMessage(result);
