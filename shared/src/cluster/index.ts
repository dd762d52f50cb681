export * from './assignment.js';
export * from './scheduler.js';
