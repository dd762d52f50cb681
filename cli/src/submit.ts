import { AppError, ErrorCodes, Params, isTributaryError, planToJSON, type ErrorCode } from '@tributary/shared';
import { bundleAndPlan } from './bundle.js';

/** Plans an application locally, bundles it, and submits both to the master's REST API. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function submitApp(masterUrl: string, app: string, params: Params): Promise<any> {
  const { bundle, graph } = await bundleAndPlan(app, params);
  const plan = planToJSON(graph);
  return callMaster(masterUrl, 'POST', '/apps', { plan, params: params.toJSON(), bundle: Buffer.from(bundle).toString('base64') });
}

/** One REST call; a non-2xx answer becomes a coded error carrying the master's explanation. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function callMaster(base: string, method: string, path: string, body?: unknown): Promise<any> {
  let res: Response;
  try {
    res = await fetch(new URL(path, base), { method, headers: body ? { 'content-type': 'application/json' } : {}, body: body ? JSON.stringify(body) : undefined });
  } catch (cause) {
    throw new AppError(ErrorCodes.APP_INVALID, `cannot reach the master at ${base}: ${(cause as Error).message}`, { cause });
  }
  const data = await res.json().catch(() => ({}));
  if (!res.ok) {
    const details = Array.isArray(data.details) ? `: ${data.details.join('; ')}` : '';
    // The master's own code when it sent one (TRIB_ERR_DEVICE_EXISTS, …), else APP_INVALID.
    const code = isTributaryError({ code: data.code }) ? (data.code as ErrorCode) : ErrorCodes.APP_INVALID;
    throw new AppError(code, `master answered ${res.status}: ${data.error ?? res.statusText}${details}`);
  }
  return data;
}
