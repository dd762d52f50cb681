export type { ReplayLog, LoggedBatch, SourceLogStats } from './replay-log.js';
export { LevelReplayLog, REPLAY_LOG_FORMAT } from './level-replay-log.js';
export { MemoryReplayLog } from './memory-replay-log.js';
export { AppReplayLog } from './app-replay-log.js';
export { sortableNumber, parseSortableNumber } from './sortable-number.js';
