import 'uplot/dist/uPlot.min.css';
import './style.css';
import { appPage } from './app-page.js';
import { fleetPage } from './fleet.js';
import { overviewPage } from './overview.js';
import type { Page } from './page.js';
import { processorPage } from './processor-page.js';
import { rolloutsPage } from './rollouts-page.js';
import { LiveStore } from './store.js';

/**
 * The dashboard: hash routes (#/, #/apps/:id, #/apps/:id/processors/:pid, #/fleet, #/rollouts), each page fed
 * by the one live stream. `window.__tributary` exposes the stream and the graph to tests.
 */
const root = document.getElementById('root')!;
const store = new LiveStore(document.getElementById('status')!);
const hooks: Record<string, unknown> = { store };
(window as unknown as { __tributary: Record<string, unknown> }).__tributary = hooks;

let page: Page | null = null;
let unsubscribe: (() => void) | null = null;

function route(): void {
  unsubscribe?.();
  page?.destroy?.();
  hooks.cy = undefined;
  const [path, qs] = location.hash.replace(/^#/, '').split('?');
  const parts = (path || '/').split('/').filter(Boolean).map(decodeURIComponent);
  if (parts[0] === 'apps' && parts[1] && parts[2] === 'processors' && parts[3]) page = processorPage(root, parts[1], parts[3]);
  else if (parts[0] === 'apps' && parts[1]) page = appPage(root, parts[1]);
  else if (parts[0] === 'fleet') page = fleetPage(root, new URLSearchParams(qs ?? ''));
  else if (parts[0] === 'rollouts') page = rolloutsPage(root);
  else page = overviewPage(root);
  root.dataset.page = parts[0] ?? 'overview';
  const current = page;
  unsubscribe = store.subscribe((s) => current.update(s));
}

window.addEventListener('hashchange', route);
route();
store.connect();
