import { AppError, ErrorCodes, Params, isTributaryError, planToJSON, type ErrorCode } from '@tributary/shared';
import { bundleAndPlan } from './bundle.js';

/** Which master to call and with which admin token (commands/master-client.ts builds it from flags, config and env). */
export interface MasterTarget {
  url: string;
  /** Sent as `Authorization: Bearer`; absent: TRIBUTARY_TOKEN from the environment, if set. */
  token?: string;
}

/** Plans an application locally, bundles it, and submits both to the master's REST API. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function submitApp(master: string | MasterTarget, app: string, params: Params): Promise<any> {
  const { bundle, graph } = await bundleAndPlan(app, params);
  const plan = planToJSON(graph);
  return callMaster(master, 'POST', '/apps', { plan, params: params.toJSON(), bundle: Buffer.from(bundle).toString('base64') });
}

/**
 * One REST call; a non-2xx answer becomes a coded error carrying the master's explanation (401:
 * the master's AUTH_REQUIRED / AUTH_INVALID code). A plain URL sends TRIBUTARY_TOKEN if set.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function callMaster(master: string | MasterTarget, method: string, path: string, body?: unknown): Promise<any> {
  const { url: base, token } = typeof master === 'string' ? { url: master, token: process.env.TRIBUTARY_TOKEN || undefined } : master;
  const headers: Record<string, string> = body ? { 'content-type': 'application/json' } : {};
  if (token) headers.authorization = `Bearer ${token}`;
  let res: Response;
  try {
    res = await fetch(new URL(path, base), { method, headers, body: body ? JSON.stringify(body) : undefined });
  } catch (cause) {
    throw new AppError(ErrorCodes.APP_INVALID, `cannot reach the master at ${base}: ${(cause as Error).message}`, { cause });
  }
  const data = await res.json().catch(() => ({}));
  if (!res.ok) {
    const details = Array.isArray(data.details) ? `: ${data.details.join('; ')}` : '';
    // The master's own code when it sent one (TRIB_ERR_DEVICE_EXISTS, TRIB_ERR_AUTH_REQUIRED, …), else APP_INVALID.
    const code = isTributaryError({ code: data.code }) ? (data.code as ErrorCode) : ErrorCodes.APP_INVALID;
    const hint = res.status === 401 && !token ? ' (no admin token given: --token, TRIBUTARY_TOKEN or `token` in --config)' : '';
    throw new AppError(code, `master answered ${res.status}: ${data.error ?? res.statusText}${details}${hint}`);
  }
  return data;
}
