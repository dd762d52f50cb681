import { AppError, ErrorCodes } from '../errors.js';

/**
 * Application parameters (`--param key=value`), with typed accessors that fail with a clear,
 * coded error naming the parameter, so a typo never turns into `undefined` deep in a pipeline.
 */
export class Params {
  private readonly values: ReadonlyMap<string, string>;
  private readonly placeholders: boolean;

  /**
   * With `placeholders`, a missing parameter yields `<name>` (or 1 for numbers) instead of an
   * error: `tributary plan` uses it to show an application's shape without real inputs.
   */
  constructor(raw: Record<string, string> = {}, options: { placeholders?: boolean } = {}) {
    this.values = new Map(Object.entries(raw));
    this.placeholders = options.placeholders ?? false;
  }

  withPlaceholders(): Params {
    return new Params(this.toJSON(), { placeholders: true });
  }

  /** Parses `key=value` strings as given on the command line. */
  static parse(pairs: readonly string[]): Params {
    const raw: Record<string, string> = {};
    for (const pair of pairs) {
      const eq = pair.indexOf('=');
      if (eq <= 0) throw new AppError(ErrorCodes.PARAM_INVALID, `--param expects key=value, got ${JSON.stringify(pair)}`);
      raw[pair.slice(0, eq)] = pair.slice(eq + 1);
    }
    return new Params(raw);
  }

  has(name: string): boolean {
    return this.values.has(name);
  }

  string(name: string, fallback?: string): string {
    const v = this.values.get(name) ?? fallback;
    if (v === undefined) {
      if (this.placeholders) return `<${name}>`;
      throw missing(name);
    }
    return v;
  }

  number(name: string, fallback?: number): number {
    const raw = this.values.get(name);
    if (raw === undefined) {
      if (fallback !== undefined) return fallback;
      if (this.placeholders) return 1;
      throw missing(name);
    }
    const n = Number(raw);
    if (raw.trim() === '' || !Number.isFinite(n)) throw new AppError(ErrorCodes.PARAM_INVALID, `parameter ${name} must be a number, got ${JSON.stringify(raw)}`);
    return n;
  }

  integer(name: string, fallback?: number): number {
    const n = this.number(name, fallback);
    if (!Number.isSafeInteger(n)) throw new AppError(ErrorCodes.PARAM_INVALID, `parameter ${name} must be an integer, got ${n}`);
    return n;
  }

  toJSON(): Record<string, string> {
    return Object.fromEntries(this.values);
  }
}

function missing(name: string): AppError {
  return new AppError(ErrorCodes.PARAM_INVALID, `missing required parameter: --param ${name}=<value>`);
}
