import type { SinkSpec } from './sink.js';
import { connectorSpecCreate } from '../connectors.js';

/** A row for the table: column name -> value (numbers, strings, booleans, null, Date, Buffer, arrays, JSON objects). */
export type PostgresRow = Record<string, unknown>;

export interface PostgresSinkOptions<T> {
  /** Connection string, e.g. postgres://user:password@127.0.0.1:5432/db. */
  url: string;
  /** Target table, optionally schema-qualified (`results`, `plant.windows`). Must exist. */
  table: string;
  /**
   * The columns to fill. Alone: each result's value is an object and column c gets `value[c]`.
   * With toRow: the columns of every row (a key toRow leaves out is NULL).
   */
  columns?: readonly string[];
  /** Maps a result to its row (column -> value); without columns, a batch's columns are its rows' keys. */
  toRow?: (value: T, ts: number) => PostgresRow;
  /**
   * Natural key columns (e.g. key + window start): rows become upserts,
   * `INSERT ... ON CONFLICT (upsertKey) DO UPDATE` the other columns. Needs a unique index on them.
   */
  upsertKey?: readonly string[];
  /** Most rows in one INSERT statement (default 500); a write() is one transaction whatever its size. */
  batchSize?: number;
  /**
   * Exactly-once (checkpoints on): the name this sink's progress is kept under in
   * `tributary_sink_progress` / `tributary_sink_emitted`, per sink task. Default: the table.
   * Give each application its own when several write one table.
   */
  sinkId?: string;
  /**
   * Where rows the table refuses (a constraint, a bad value) go, with the database's message:
   * a table created if missing (default `tributary_sink_refused`); null: only logged and counted.
   */
  refusedTable?: string | null;
  /**
   * SQL run when each sink task opens, before its first write (serialized across tasks), e.g.
   * `CREATE TABLE IF NOT EXISTS ...`: an application that brings its own table.
   */
  setup?: string;
  /** How long open() keeps retrying an unreachable database before failing (default 60 s). */
  connectTimeoutMs?: number;
  /** Longest pause between retries of a lost connection (default 5 s; the first is 100 ms). */
  retryMaxDelayMs?: number;
}

const IDENT = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

/** True for a plain SQL identifier (quoted by the sink, so case is kept). */
export function isSqlIdentifier(name: unknown): name is string {
  return typeof name === 'string' && IDENT.test(name);
}

/** True for `name` or `schema.name`, both plain identifiers. */
export function isSqlTableName(name: unknown): name is string {
  if (typeof name !== 'string') return false;
  const parts = name.split('.');
  return parts.length <= 2 && parts.every((p) => IDENT.test(p));
}

/**
 * Writes results as rows of a PostgreSQL table, one transaction per batch. With checkpoints on,
 * each batch commits together with the sink's progress, so a recovery skips exactly what was
 * committed: a reader of the table never sees a duplicate. A lost connection is retried, and
 * write() waits meanwhile (the pipeline slows, nothing is dropped); a row the table refuses goes
 * to `refusedTable` with the database's message and the rest of the batch is written.
 */
export function postgresSink<T = unknown>(options: PostgresSinkOptions<T>): SinkSpec<T> {
  const fail = (what: string): never => {
    throw new TypeError(`postgresSink: ${what}`);
  };
  if (typeof options?.url !== 'string' || !/^postgres(ql)?:\/\//.test(options.url)) fail('url must be postgres://user@host:port/db');
  if (!isSqlTableName(options.table)) fail('table must be a name or schema.name of letters, digits and _');
  const { columns, toRow, upsertKey, batchSize, sinkId, refusedTable } = options;
  if (columns !== undefined && (!Array.isArray(columns) || columns.length === 0 || !columns.every(isSqlIdentifier))) fail('columns must be a non-empty array of column names');
  if (toRow !== undefined && typeof toRow !== 'function') fail('toRow must be a function');
  if (columns === undefined && toRow === undefined) fail('give columns, toRow, or both');
  if (columns && new Set(columns).size !== columns.length) fail('columns must not repeat');
  if (upsertKey !== undefined) {
    if (!Array.isArray(upsertKey) || upsertKey.length === 0 || !upsertKey.every(isSqlIdentifier)) fail('upsertKey must be a non-empty array of column names');
    if (columns && !upsertKey.every((k) => columns.includes(k))) fail('every upsertKey column must be one of columns');
  }
  if (batchSize !== undefined && (!Number.isSafeInteger(batchSize) || batchSize < 1)) fail('batchSize must be a positive integer');
  if (sinkId !== undefined && (typeof sinkId !== 'string' || sinkId.length === 0)) fail('sinkId must be a non-empty string');
  if (refusedTable !== undefined && refusedTable !== null && !isSqlTableName(refusedTable)) fail('refusedTable must be a table name or null');
  if (options.setup !== undefined && (typeof options.setup !== 'string' || options.setup.trim() === '')) fail('setup must be an SQL statement');
  for (const k of ['connectTimeoutMs', 'retryMaxDelayMs'] as const) {
    const v = options[k];
    if (v !== undefined && (!Number.isFinite(v) || v <= 0)) fail(`${k} must be a positive number`);
  }
  return {
    kind: 'sink', name: `postgres(${options.table})`, maxParallelism: Number.MAX_SAFE_INTEGER,
    connector: { type: 'postgres', options }, create: connectorSpecCreate('postgresSink'),
  };
}
