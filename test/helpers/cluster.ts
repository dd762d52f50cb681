import { setTimeout as delay } from 'node:timers/promises';
import { join } from 'node:path';
import { adminHeaders, launchMaster, launchNode, nodeMasterArgs, type ChildNode } from '../../cli/src/launcher.js';

export type Proc = ChildNode;

export interface RunningMaster {
  proc: Proc;
  brokerUrl: string;
  /** Its broker's MQTT-over-TLS listener (client certificates from its CA), when it has one. */
  brokerTlsUrl: string | null;
  httpUrl: string;
  /** The bootstrap admin token the launcher gave it (TRIBUTARY_ADMIN_TOKEN). */
  adminToken: string;
}

/** A master on ephemeral ports (embedded broker unless `extra` names one). */
export async function startMaster(data: string, extra: string[] = []): Promise<RunningMaster> {
  const m = await launchMaster(['--data', data, '--mqtt-port', '0', '--http-port', '0', ...extra]);
  return { proc: m.node, brokerUrl: m.brokerUrl, brokerTlsUrl: m.brokerTlsUrl, httpUrl: m.httpUrl, adminToken: m.adminToken };
}

/** A node of the master whose broker is `brokerUrl`; it enrols first when that master enforces authentication (nodeMasterArgs). */
export async function startNode(kind: 'worker' | 'agent', id: string, brokerUrl: string, data: string, labels: Record<string, string> = {}, extra: string[] = []): Promise<Proc> {
  const labelArgs = Object.entries(labels).flatMap(([k, v]) => ['--label', `${k}=${v}`]);
  const dir = join(data, id);
  return launchNode(kind, id, [...(await nodeMasterArgs(kind, id, brokerUrl, dir)), '--data', dir, ...labelArgs, ...extra]);
}

/**
 * One REST call to a master; with the admin token of that master when this process launched it
 * (unless `init` sets its own Authorization, or `token: null` asks for none).
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function api(httpUrl: string, path: string, init?: RequestInit, token?: string | null): Promise<{ status: number; body: any }> {
  const auth = token === null ? {} : token ? { authorization: `Bearer ${token}` } : adminHeaders(httpUrl);
  const res = await fetch(new URL(path, httpUrl), { ...init, headers: { ...auth, ...Object.fromEntries(new Headers(init?.headers).entries()) } });
  return { status: res.status, body: await res.json().catch(() => null) };
}

/**
 * Retries `check` until it returns a value (not undefined), up to `attempts` times: for state only
 * the master's API can tell (the registry, an app's state), where no event reaches the test.
 */
export async function until<T>(what: string, check: () => Promise<T | undefined>, attempts = 300, everyMs = 100): Promise<T> {
  for (let i = 0; i < attempts; i++) {
    const v = await check();
    if (v !== undefined) return v;
    await delay(everyMs);
  }
  throw new Error(`timed out waiting for ${what}`);
}

export { adminHeaders, waitForNodesOnline } from '../../cli/src/launcher.js';
