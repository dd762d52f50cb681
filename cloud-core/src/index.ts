export { Master } from './master/master.js';
export { runMaster } from './master/main.js';
export { runWorker } from './worker/main.js';
export { startEmbeddedBroker, type EmbeddedBroker } from './broker/index.js';
