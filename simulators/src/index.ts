export { mulberry32 } from './prng.js';
export { generateReadings, writeReadingsFile, writeWordsFile, type Reading, type ReadingsOptions, type WordsOptions } from './readings.js';
export { fleetPlan, fleetBatches, fleetDeviceIds, type FleetPlanPlacement } from './fleet-plan.js';
export { startThirdPartyDevices, type ThirdPartyDevices, type ThirdPartyDevicesOptions } from './third-party.js';
