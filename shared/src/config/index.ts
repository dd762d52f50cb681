export { loadConfig, envName, labelsSchema, type ConfigSources } from './load-config.js';
export * from './schemas.js';
