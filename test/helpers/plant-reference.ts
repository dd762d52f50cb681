/**
 * The plant-monitor reference lives with the chaos command (chaos/reference.ts), which compares
 * a faulty cluster run against it; re-exported here for the tests.
 */
export { expectedPlantWindows, plantKey, type PlantWindow } from '../../chaos/reference.js';
