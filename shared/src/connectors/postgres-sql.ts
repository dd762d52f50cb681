/**
 * SQL text and error classification for the PostgreSQL sink (postgres-sink.ts). Names reaching
 * here were checked by the API's postgresSink() (plain identifiers), and are quoted anyway.
 */

/** PostgreSQL's limit of bind parameters in one statement. */
const MAX_PARAMS = 65_535;

export const PROGRESS_TABLE = 'tributary_sink_progress';
export const EMITTED_TABLE = 'tributary_sink_emitted';

/** `a.b` -> `"a"."b"`. */
export function quoteName(name: string): string {
  return name.split('.').map((p) => `"${p.replaceAll('"', '""')}"`).join('.');
}

/** The sink's bookkeeping tables (exactly-once), created once per database. */
export const BOOKKEEPING_DDL = [
  `CREATE TABLE IF NOT EXISTS ${PROGRESS_TABLE} (
    sink text NOT NULL, task integer NOT NULL, seq bigint NOT NULL, owner text NOT NULL,
    PRIMARY KEY (sink, task))`,
  // One row per result written (or refused) that a replay could still re-emit; w: the sink's latest checkpoint then.
  `CREATE TABLE IF NOT EXISTS ${EMITTED_TABLE} (
    sink text NOT NULL, task integer NOT NULL, id text NOT NULL, ts double precision NOT NULL, w double precision)`,
  `CREATE INDEX IF NOT EXISTS ${EMITTED_TABLE}_task ON ${EMITTED_TABLE} (sink, task)`,
];

export function refusedDdl(table: string): string {
  return `CREATE TABLE IF NOT EXISTS ${quoteName(table)} (
    sink text NOT NULL, task integer NOT NULL, ts double precision NOT NULL, "row" jsonb,
    code text, message text NOT NULL, at timestamptz NOT NULL DEFAULT now())`;
}

export interface Statement {
  text: string;
  values: unknown[];
}

/**
 * INSERT of `rows` (values in `columns` order) into `table`, split so that no statement has more
 * than `batchSize` rows or PostgreSQL's parameter limit. With `upsertKey`: ON CONFLICT ... DO
 * UPDATE, and of rows sharing a key within one statement only the last is kept (PostgreSQL
 * refuses to update one row twice in a statement; the later result wins, as it would in order).
 */
export function insertStatements(table: string, columns: readonly string[], rows: readonly unknown[][], batchSize: number, upsertKey?: readonly string[]): Statement[] {
  const per = rowsPerStatement(batchSize, columns.length);
  const head = `INSERT INTO ${quoteName(table)} (${columns.map(quoteName).join(', ')}) VALUES `;
  let tail = '';
  let keyIdx: number[] = [];
  if (upsertKey) {
    keyIdx = upsertKey.map((k) => columns.indexOf(k));
    const rest = columns.filter((c) => !upsertKey.includes(c));
    tail = ` ON CONFLICT (${upsertKey.map(quoteName).join(', ')}) ` +
      (rest.length === 0 ? 'DO NOTHING' : `DO UPDATE SET ${rest.map((c) => `${quoteName(c)} = EXCLUDED.${quoteName(c)}`).join(', ')}`);
  }
  const out: Statement[] = [];
  for (let i = 0; i < rows.length; i += per) {
    let chunk = rows.slice(i, i + per);
    if (upsertKey) chunk = lastPerKey(chunk, keyIdx);
    out.push(valuesStatement(head, tail, chunk, columns.length));
  }
  return out;
}

/** Rows per INSERT: batchSize, or fewer to stay within PostgreSQL's parameter limit. */
export function rowsPerStatement(batchSize: number, width: number): number {
  return Math.max(1, Math.min(batchSize, Math.floor(MAX_PARAMS / Math.max(1, width))));
}

/** One row's INSERT (the refused-row search: each row on its own). */
export function singleInsert(table: string, columns: readonly string[], row: unknown[], upsertKey?: readonly string[]): Statement {
  return insertStatements(table, columns, [row], 1, upsertKey)[0]!;
}

function valuesStatement(head: string, tail: string, rows: readonly unknown[][], width: number): Statement {
  const values: unknown[] = [];
  const tuples: string[] = [];
  for (const row of rows) {
    const ps: string[] = [];
    for (let c = 0; c < width; c++) {
      values.push(row[c] ?? null);
      ps.push(`$${values.length}`);
    }
    tuples.push(`(${ps.join(', ')})`);
  }
  return { text: head + tuples.join(', ') + tail, values };
}

function lastPerKey(rows: unknown[][], keyIdx: readonly number[]): unknown[][] {
  const last = new Map<string, number>();
  rows.forEach((r, i) => last.set(JSON.stringify(keyIdx.map((k) => r[k] ?? null)), i));
  if (last.size === rows.length) return rows;
  const keep = new Set(last.values());
  return rows.filter((_, i) => keep.has(i));
}

/** Multi-row INSERT of the sink's emitted entries (sink, task, id, ts, w). */
export function emittedStatements(sink: string, task: number, entries: readonly { id: string; ts: number; w: number | null }[]): Statement[] {
  const rows = entries.map((e) => [sink, task, e.id, e.ts, e.w]);
  return insertStatements(EMITTED_TABLE, ['sink', 'task', 'id', 'ts', 'w'], rows, 2000);
}

/** What an error means for the sink. */
export type ErrorKind = 'connection' | 'refused' | 'fatal';

/**
 * connection: the database went away or is starting/stopping (retry the batch on a new
 * connection); refused: this row's values (SQLSTATE class 22 data exception, 23 integrity
 * constraint); fatal: anything else (a missing table or column, authentication): the task fails.
 * Errors without an SQLSTATE come from the socket or the driver (reset, refused, terminated).
 */
export function classify(err: unknown): ErrorKind {
  if (err instanceof TypeError || err instanceof RangeError) return 'fatal'; // a value the driver cannot send
  const code = (err as { code?: unknown })?.code;
  if (typeof code === 'string' && code.startsWith('TRIB_ERR_')) return 'fatal';
  if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) {
    const cls = code.slice(0, 2);
    if (cls === '22' || cls === '23') return 'refused';
    // 08 connection exception, 57 operator intervention (shutdown, cannot connect now), 53 resources, 40 rollback (serialization, deadlock)
    if (cls === '08' || cls === '57' || cls === '53' || cls === '40') return 'connection';
    return 'fatal';
  }
  return 'connection';
}
