export { NodeAgent, TRIBUTARY_VERSION, type NodeAgentOptions, type NodeCredentials, type NodeHealth } from './node-agent.js';
export { BundleCache, sha256 } from './bundle-cache.js';
export { exitOnSignal } from './shutdown.js';
export { evaluateBundle, loadBundle, bundleHeader, bundleApiVersion, BUNDLE_HEADER } from './app-bundle.js';
export type { AppHost, AppHostOptions, AppStatus, Isolation } from './app-host.js';
export { planBundle, type BundlePlan, type PlanLimits } from './bundle-planner.js';
export { BundleRejected, MasterSigningKey, masterKeyPath } from './master-key.js';
