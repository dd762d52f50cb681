import { baselines } from './baselines.js';
import { controlPlane } from './control-plane.js';
import { durability } from './durability.js';
import { examples } from './examples.js';
import { footprint } from './footprint.js';
import { latency } from './latency.js';
import { recovery } from './recovery.js';
import type { Scenario } from './scenario.js';
import { throughput } from './throughput.js';

/** In running order: the baselines first, so that every later row has its ratios. */
export const scenarios: readonly Scenario[] = [baselines, throughput, latency, durability, footprint, controlPlane, recovery, examples];
export type { Scenario } from './scenario.js';
