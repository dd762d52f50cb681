/**
 * Local mode of a benchmark app: loadApp + LocalRuntime in this one process (no broker), the
 * processing ceiling. Command { type: 'run', app, params } -> { type: 'ran', figures, durationMs },
 * `figures` being what the app's measuring sink wrote to params.output.
 */
import { readFile, rm } from 'node:fs/promises';
import { LocalRuntime, Params, builtinConnectors, createLogger } from '@tributary/shared';
import { loadApp } from '../../cli/src/bundle.js';
import { send, serve } from './io.js';

const log = createLogger({ level: 'silent' });

send({ type: 'ready' });
serve(async (cmd) => {
  if (cmd.type !== 'run') return;
  const params = cmd.params as Record<string, string>;
  await rm(params.output, { force: true });
  const graph = await loadApp(String(cmd.app), new Params(params));
  const summary = await new LocalRuntime(graph, { log, connectors: builtinConnectors }).run();
  const figures = JSON.parse(await readFile(params.output, 'utf8')) as unknown;
  send({ type: 'ran', figures, durationMs: summary.durationMs });
});
