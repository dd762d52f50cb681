import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { ConfigError } from '../api/errors.js';

export interface ConfigSources {
  /** Path of a JSON config file (optional). */
  file?: string;
  /**
   * Agents: the remote configuration the master rolled out (`<data>/agent/config.json`,
   * edge-agent/src/update/remote-config.ts), laid over the file and under env and flags.
   */
  remote?: Record<string, unknown>;
  /** Environment, read as TRIBUTARY_<SETTING_IN_SNAKE_CASE>; defaults to process.env. */
  env?: NodeJS.ProcessEnv;
  /** Values from command-line flags; undefined entries are ignored. */
  flags?: Record<string, unknown>;
}

/**
 * One validated configuration, merged in order of precedence:
 *   schema defaults < config file < remote configuration (agents) < environment (TRIBUTARY_*) < command-line flags.
 * Validation happens once, at start-up; a bad value is a ConfigError naming the setting, where it
 * came from, and what was expected.
 */
export function loadConfig<S extends z.ZodObject>(schema: S, sources: ConfigSources = {}): z.infer<S> {
  const fromFile = sources.file ? readConfigFile(sources.file) : {};
  const fromRemote = sources.remote ?? {};
  const fromEnv = readEnv(schema, sources.env ?? process.env);
  const fromFlags = Object.fromEntries(Object.entries(sources.flags ?? {}).filter(([, v]) => v !== undefined));
  const merged = { ...fromFile, ...fromRemote, ...fromEnv, ...fromFlags };
  const result = schema.safeParse(merged);
  if (!result.success) {
    const origin = (key: string) => (key in fromFlags ? 'flag' : key in fromEnv ? `env ${envName(key)}` : key in fromRemote ? 'remote configuration' : key in fromFile ? `file ${sources.file}` : 'default');
    const problems = result.error.issues.map((i) => {
      const key = String(i.path[0] ?? '');
      return `${i.path.join('.') || '(root)'} (${origin(key)}): ${i.message}`;
    });
    throw new ConfigError(`invalid configuration: ${problems.join('; ')}`);
  }
  return result.data;
}

function readConfigFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (cause) {
    throw new ConfigError(`cannot read config file ${path}: ${(cause as Error).message}`, { cause });
  }
  try {
    const parsed: unknown = JSON.parse(text);
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('expected a JSON object');
    return parsed as Record<string, unknown>;
  } catch (cause) {
    throw new ConfigError(`config file ${path} is not valid: ${(cause as Error).message}`, { cause });
  }
}

/** TRIBUTARY_HTTP_PORT -> httpPort, for the keys the schema knows; numbers and JSON are coerced by the schema. */
function readEnv(schema: z.ZodObject, env: NodeJS.ProcessEnv): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(schema.shape)) {
    const raw = env[envName(key)];
    if (raw !== undefined && raw !== '') out[key] = raw;
  }
  return out;
}

export function envName(key: string): string {
  return `TRIBUTARY_${key.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`;
}

/** `key=value` pairs (from repeated flags or a comma-separated env value) as a record. */
export const labelsSchema = z.preprocess((v) => {
  if (typeof v === 'string') v = v.split(',').filter(Boolean);
  if (Array.isArray(v)) {
    return Object.fromEntries(v.map((pair: string) => {
      const eq = String(pair).indexOf('=');
      return eq > 0 ? [pair.slice(0, eq), pair.slice(eq + 1)] : [pair, ''];
    }));
  }
  return v;
}, z.record(z.string().regex(/^[A-Za-z0-9_.-]+$/, 'label keys are letters, digits, _ . -'), z.string().min(1, 'label values must not be empty')));
