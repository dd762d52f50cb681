import { LocalRuntime, builtinConnectors, createLogger, type Graph, type Message, type Pipeline } from '@tributary/shared';

export const silent = createLogger({ level: 'silent' });

/** Runs a pipeline or graph to completion in local mode, logs silenced. */
export async function runToEnd(app: Pipeline | Graph, options: { batchSize?: number; credits?: number } = {}) {
  const graph = 'compile' in app ? app.compile() : app;
  const runtime = new LocalRuntime(graph, { log: silent, connectors: builtinConnectors, ...options });
  const summary = await runtime.run();
  return { runtime, summary };
}

export function msgs<T>(pairs: readonly [number, T][]): Message<T>[] {
  return pairs.map(([ts, value]) => ({ ts, value }));
}
