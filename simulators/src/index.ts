export { mulberry32 } from './prng.js';
export { generateReadings, writeReadingsFile, writeWordsFile, type Reading, type ReadingsOptions, type WordsOptions } from './readings.js';
