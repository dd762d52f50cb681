/**
 * bench/apps/placement.ts under another bundle digest, same shape: the new version the rollout
 * benchmark rolls out to a fleet of light agents (bench/rollout.ts --kind app).
 */
import placement from './placement.js';

export const revision = 'v2';
export default placement;
