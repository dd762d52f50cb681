import { pino } from 'pino';
import type { Logger } from '../api/logger.js';

/** Every layer logs through the API's Logger shape; pino is the one implementation. */
export type { Logger };

/**
 * The root logger. Structured JSON to stderr (stdout belongs to sinks such as the stdout sink
 * and to CLI output). Level from TRIBUTARY_LOG_LEVEL, default `info`; tests set `silent`.
 */
export function createLogger(options: { level?: string; name?: string } = {}): Logger {
  const level = options.level ?? process.env.TRIBUTARY_LOG_LEVEL ?? 'info';
  return pino({ name: options.name ?? 'tributary', level }, pino.destination(2));
}
