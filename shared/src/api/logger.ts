/**
 * The structured logger a task, source or sink receives in its context. The hosting process
 * supplies it (pino there); the API holds only its shape, so an application bundle carries no
 * logger implementation. Call it pino-style: `log.info({ key }, 'message')` or `log.warn('message')`.
 */
export interface LogFn {
  (obj: object, msg?: string, ...args: unknown[]): void;
  (msg: string, ...args: unknown[]): void;
}

export interface Logger {
  fatal: LogFn;
  error: LogFn;
  warn: LogFn;
  info: LogFn;
  debug: LogFn;
  trace: LogFn;
  /** A logger that adds `bindings` to every line. */
  child(bindings: Record<string, unknown>): Logger;
}
