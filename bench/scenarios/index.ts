import { sensorWindows } from './sensor-windows.js';
import type { Scenario } from './types.js';
import { wordcount } from './wordcount.js';

export const scenarios: readonly Scenario[] = [wordcount, sensorWindows];
export type { Scenario } from './types.js';
