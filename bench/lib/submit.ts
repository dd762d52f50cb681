/**
 * Submitting a benchmark app to a master, and waiting for its results: the plan is made per
 * submission (params differ), the esbuild bundle once per app file.
 */
import { readFile, rm } from 'node:fs/promises';
import { Params, planToJSON } from '@tributary/shared';
import { bundleApp, loadApp } from '../../cli/src/bundle.js';
import { adminTokenOf } from '../../cli/src/launcher.js';
import { callMaster, type MasterTarget } from '../../cli/src/submit.js';

const bundles = new Map<string, Promise<string>>();

/** A master the bench launched, with its admin token (cli/src/launcher.ts remembers it). */
const target = (httpUrl: string): MasterTarget => ({ url: httpUrl, token: adminTokenOf(httpUrl) });

function bundleOf(app: string): Promise<string> {
  let b = bundles.get(app);
  if (!b) bundles.set(app, (b = bundleApp(app).then((bytes) => Buffer.from(bytes).toString('base64'))));
  return b;
}

/** POST /apps with a plan for `params` and the cached bundle; the app id is its pipeline name. */
export async function submit(httpUrl: string, app: string, params: Record<string, string>): Promise<void> {
  const plan = planToJSON(await loadApp(app, new Params(params)));
  await callMaster(target(httpUrl), 'POST', '/apps', { plan, params, bundle: await bundleOf(app) });
}

/** Builds the bundle ahead of the first timed submission. */
export async function prepareBundle(app: string): Promise<void> {
  await bundleOf(app);
}

export async function kill(httpUrl: string, id: string): Promise<void> {
  await callMaster(target(httpUrl), 'DELETE', `/apps/${encodeURIComponent(id)}`).catch(() => {});
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Waits until the app's sink has written its figures to `output` (parsed as JSON), checking the
 * master every 250 ms for a failure; rejects after `timeoutMs`.
 */
export async function awaitOutput<T>(httpUrl: string, id: string, output: string, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let checked = 0;
  for (;;) {
    const text = await readFile(output, 'utf8').catch(() => null);
    if (text) {
      try {
        const figures = JSON.parse(text) as T;
        await rm(output, { force: true });
        return figures;
      } catch { /* still being written */ }
    }
    if (Date.now() - checked > 250) {
      checked = Date.now();
      const a = (await callMaster(target(httpUrl), 'GET', `/apps/${encodeURIComponent(id)}`).catch(() => null)) as { state?: string; error?: string } | null;
      if (a?.error || a?.state === 'failed' || a?.state === 'killed') throw new Error(`application ${id} ${a.state}: ${a.error ?? 'no error given'}`);
    }
    if (Date.now() > deadline) throw new Error(`application ${id}: no results within ${Math.round(timeoutMs / 1000)} s`);
    await sleep(20);
  }
}
