import type { BenchContext, ClusterName } from '../lib/context.js';

/** One scenario of `npm run bench`: it measures, and adds rows to the context. */
export interface Scenario {
  /** For --only. */
  name: string;
  title: string;
  /** Clusters it uses: kept running until the last selected scenario that uses them is done. */
  clusters: readonly ClusterName[];
  run(ctx: BenchContext): Promise<void>;
}

export const E2C_APP = 'bench/apps/edge-to-cloud.ts';
