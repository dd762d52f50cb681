import { createHash, randomBytes } from 'node:crypto';
import type pg from 'pg';
import { ErrorCodes, TributaryError } from '../api/errors.js';
import type { Logger } from '../log/log.js';
import type { Message } from '../api/message.js';
import type { Sink, SinkContext } from '../api/sink/sink.js';
import type { PostgresRow, PostgresSinkOptions } from '../api/sink/postgres-sink.js';
import { PostgresConnection } from './postgres-connection.js';
import { BOOKKEEPING_DDL, classify, EMITTED_TABLE, emittedStatements, insertStatements, PROGRESS_TABLE, refusedDdl, rowsPerStatement, singleInsert } from './postgres-sql.js';

/** One result to write: its time, identity, row object (for the refused table) and values in column order. */
interface Item {
  ts: number;
  id: string;
  obj: PostgresRow;
  values: unknown[];
}

interface Refused {
  item: Item;
  code: string | null;
  message: string;
}

/**
 * The PostgreSQL sink (spec: api/sink/postgres-sink.ts). Created by the connectors table per sink
 * task; the runtime calls open(), write() per batch (awaited: a slow database slows the
 * pipeline), checkpoint(t) / checkpointComplete(t) with checkpoints on, and close().
 *
 * Each write() is one transaction: the rows (multi-row INSERTs of at most batchSize rows, each
 * under a savepoint: a refused statement is retried row by row, and the rows PostgreSQL still
 * refuses, SQLSTATE classes 22/23, go to the refused table), and with exactly-once on also the
 * task's progress (`tributary_sink_progress`: seq + 1, only while this instance owns the row) and
 * one `tributary_sink_emitted` row per result (a 96-bit hash of ts and row). A replay re-emits
 * identical results (the pipeline is deterministic from the replay log), so a recovery (resume)
 * reads the emitted rows back and skips each identity as often as it was committed: what a crash
 * left uncommitted is written again, what was committed never twice. checkpoint(t) deletes the
 * entries no replay can re-emit any more (as the MQTT sink prunes its marker).
 *
 * A lost connection (socket errors, SQLSTATE 08/57/53/40) is retried on a new connection with
 * backoff while write() waits (postgres-connection.ts); if the COMMIT itself may have been lost, the progress row's seq
 * tells whether it went through. Opening bumps the owner token: a task instance still running
 * after its replacement opened (a zombie) is fenced off with TRIB_ERR_SINK_FENCED.
 */
export class PostgresSink<T> implements Sink<T> {
  private readonly db: PostgresConnection;
  private log: Logger | null = null;
  private task = 0;
  private exactlyOnce = false;
  private readonly owner = randomBytes(8).toString('hex');
  /** The progress row's seq after this instance's last commit. */
  private seq = 0;
  /** Identities a replay will re-emit, and how many more times to skip each. */
  private readonly skip = new Map<string, number>();
  /** This sink's latest checkpoint; null: none yet in a resumed run (written as NULL, fixed at the first). */
  private lastCheckpoint: number | null = -Infinity;
  private completed = -Infinity;
  private pruned = -Infinity;
  private readonly sinkId: string;
  private readonly refusedTable: string | null;
  /** Rows refused by the table in this instance's lifetime. */
  refusedRows = 0;

  constructor(private readonly o: PostgresSinkOptions<T>) {
    this.sinkId = o.sinkId ?? o.table;
    this.refusedTable = o.refusedTable === undefined ? 'tributary_sink_refused' : o.refusedTable;
    this.db = new PostgresConnection(o.url, o.table, o.retryMaxDelayMs ?? 5000, () => this.log);
  }

  /** Connection losses retried in this instance's lifetime. */
  get retries(): number {
    return this.db.retries;
  }

  async open(ctx: SinkContext): Promise<void> {
    this.log = ctx.log ?? null;
    this.task = ctx.taskIndex;
    this.exactlyOnce = ctx.exactlyOnce ?? false;
    const resume = ctx.resume ?? false;
    if (resume) this.lastCheckpoint = null;
    const deadline = Date.now() + (this.o.connectTimeoutMs ?? 60_000);
    await this.db.retrying('open', (c) => this.prepare(c, resume), deadline);
  }

  async write(batch: readonly Message<T>[]): Promise<void> {
    if (batch.length === 0) return;
    const { items, columns } = this.itemsOf(batch);
    if (items.length === 0) return;
    const w = this.lastCheckpoint;
    let attempt = 0;
    let refused: Refused[] = [];
    let confirmed = false;
    await this.db.retrying('write', async (c) => {
      if (attempt++ > 0 && this.exactlyOnce) {
        // The connection broke, maybe during COMMIT: the progress row says whether it went through.
        const r = await c.query(`SELECT seq, owner FROM ${PROGRESS_TABLE} WHERE sink = $1 AND task = $2`, [this.sinkId, this.task]);
        const row = r.rows[0] as { seq: string; owner: string } | undefined;
        if (row?.owner !== this.owner) throw this.fenced();
        if (Number(row.seq) === this.seq + 1) {
          confirmed = true;
          return;
        }
      }
      refused = await this.commit(c, items, columns, w);
    });
    this.seq++;
    if (confirmed) this.log?.info({ table: this.o.table, rows: items.length }, 'postgresSink: the batch committed before the connection broke');
    this.refusedRows += refused.length;
    for (const r of refused.slice(0, 10)) {
      this.log?.warn({ table: this.o.table, code: r.code, row: r.item.obj, ts: r.item.ts, refusedTable: this.refusedTable }, `postgresSink: row refused: ${r.message}`);
    }
    if (refused.length > 10) this.log?.warn({ table: this.o.table, more: refused.length - 10 }, 'postgresSink: more rows refused in this batch');
  }

  checkpoint(t: number): Promise<void> | void {
    if (!this.exactlyOnce || (this.lastCheckpoint !== null && t <= this.lastCheckpoint)) return;
    const first = this.lastCheckpoint === null;
    this.lastCheckpoint = t;
    const p = this.completed;
    if (!first && p <= this.pruned) return;
    const args = [this.sinkId, this.task];
    return this.db.retrying('checkpoint', async (c) => {
      // Written before this run's first checkpoint: earlier than t, which is all prune() needs.
      if (first) await c.query(`UPDATE ${EMITTED_TABLE} SET w = $3 WHERE sink = $1 AND task = $2 AND w IS NULL`, [...args, t]);
      // Results a replay from p or later never re-emits: ts < p, written before the snapshot at p.
      if (p > this.pruned) await c.query(`DELETE FROM ${EMITTED_TABLE} WHERE sink = $1 AND task = $2 AND ts < $3 AND w < $3`, [...args, p]);
      this.pruned = Math.max(this.pruned, p);
    });
  }

  checkpointComplete(t: number): void {
    if (t > this.completed) this.completed = t;
  }

  close(): Promise<void> {
    return this.db.close();
  }

  /** Creates what is missing, takes the progress row over, and on a resume loads what to skip. */
  private async prepare(c: pg.Client, resume: boolean): Promise<void> {
    await c.query('BEGIN');
    try {
      await c.query(`SELECT pg_advisory_xact_lock(hashtext('tributary_sink_schema'))`);
      if (this.o.setup) await c.query(this.o.setup);
      if (this.exactlyOnce) for (const ddl of BOOKKEEPING_DDL) await c.query(ddl);
      if (this.refusedTable) await c.query(refusedDdl(this.refusedTable));
      if (this.exactlyOnce) {
        const args = [this.sinkId, this.task];
        const r = await c.query(`INSERT INTO ${PROGRESS_TABLE} (sink, task, seq, owner) VALUES ($1, $2, 0, $3)
          ON CONFLICT (sink, task) DO UPDATE SET owner = EXCLUDED.owner RETURNING seq`, [...args, this.owner]);
        this.seq = Number((r.rows[0] as { seq: string }).seq);
        this.skip.clear();
        if (!resume) {
          // A new submission starts over: entries of an earlier one must not hide its results.
          await c.query(`DELETE FROM ${EMITTED_TABLE} WHERE sink = $1 AND task = $2`, args);
        } else {
          const e = await c.query(`SELECT id FROM ${EMITTED_TABLE} WHERE sink = $1 AND task = $2`, args);
          for (const { id } of e.rows as { id: string }[]) this.skip.set(id, (this.skip.get(id) ?? 0) + 1);
          this.log?.info({ table: this.o.table, task: this.task, committed: e.rowCount }, 'postgresSink: resuming; replayed results already committed will be skipped');
        }
      }
      await c.query('COMMIT');
    } catch (err) {
      await c.query('ROLLBACK').catch(() => undefined);
      throw err;
    }
  }

  /** The batch's rows in column order, minus replays of committed results (which it uses up). */
  private itemsOf(batch: readonly Message<T>[]): { items: Item[]; columns: readonly string[] } {
    const objs = batch.map((m) => (this.o.toRow ? this.o.toRow(m.value, m.ts) : (m.value as PostgresRow)) ?? {});
    let columns = this.o.columns;
    if (!columns) {
      const seen = new Set<string>();
      for (const obj of objs) for (const k of Object.keys(obj)) seen.add(k);
      columns = [...seen];
    }
    const items: Item[] = [];
    batch.forEach((m, i) => {
      const obj = objs[i]!;
      const id = identity(m.ts, obj);
      if (this.exactlyOnce) {
        const n = this.skip.get(id);
        if (n !== undefined) {
          if (n <= 1) this.skip.delete(id);
          else this.skip.set(id, n - 1);
          return;
        }
      }
      items.push({ ts: m.ts, id, obj, values: columns.map((col) => obj[col]) });
    });
    return { items, columns };
  }

  /** One transaction: progress, rows (refused ones set aside), refused rows, emitted entries. */
  private async commit(c: pg.Client, items: Item[], columns: readonly string[], w: number | null): Promise<Refused[]> {
    const refused: Refused[] = [];
    await c.query('BEGIN');
    try {
      if (this.exactlyOnce) {
        const r = await c.query(`UPDATE ${PROGRESS_TABLE} SET seq = seq + 1 WHERE sink = $1 AND task = $2 AND owner = $3`, [this.sinkId, this.task, this.owner]);
        if (r.rowCount !== 1) throw this.fenced();
      }
      const per = rowsPerStatement(this.o.batchSize ?? 500, columns.length);
      for (let i = 0; i < items.length; i += per) {
        const chunk = items.slice(i, i + per);
        const stmt = insertStatements(this.o.table, columns, chunk.map((it) => it.values), per, this.o.upsertKey)[0]!;
        if (await this.tryStatement(c, stmt.text, stmt.values)) continue;
        for (const it of chunk) {
          const one = singleInsert(this.o.table, columns, it.values, this.o.upsertKey);
          const err = await this.tryStatement(c, one.text, one.values, true);
          if (err !== true && err !== false) refused.push({ item: it, code: err.code ?? null, message: err.message });
        }
      }
      if (refused.length > 0 && this.refusedTable) {
        const rows = refused.map((r) => [this.sinkId, this.task, r.item.ts, JSON.stringify(r.item.obj, jsonSafe), r.code, r.message]);
        for (const s of insertStatements(this.refusedTable, ['sink', 'task', 'ts', 'row', 'code', 'message'], rows, 1000)) await c.query(s.text, s.values);
      }
      if (this.exactlyOnce) {
        for (const s of emittedStatements(this.sinkId, this.task, items.map((it) => ({ id: it.id, ts: it.ts, w })))) await c.query(s.text, s.values);
      }
      await c.query('COMMIT');
    } catch (err) {
      await c.query('ROLLBACK').catch(() => undefined);
      throw err;
    }
    return refused;
  }

  /**
   * Runs a statement under a savepoint. true: done; false (or, with `report`, the error): the
   * table refused its values and the savepoint was rolled back. Any other error is thrown.
   */
  private async tryStatement(c: pg.Client, text: string, values: unknown[], report = false): Promise<true | (Error & { code?: string }) | false> {
    await c.query('SAVEPOINT trib_rows');
    try {
      await c.query(text, values);
    } catch (err) {
      if (classify(err) !== 'refused') throw err;
      await c.query('ROLLBACK TO SAVEPOINT trib_rows');
      return report ? (err as Error & { code?: string }) : false;
    }
    await c.query('RELEASE SAVEPOINT trib_rows');
    return true;
  }

  private fenced(): TributaryError {
    return new TributaryError(ErrorCodes.SINK_FENCED, `postgresSink(${this.o.table}) task ${this.task}: another instance of this sink task took over its progress (sinkId '${this.sinkId}')`);
  }
}

/** A result's identity: 96 bits of SHA-256 over its ts and row (base64url, 16 chars). */
function identity(ts: number, row: PostgresRow): string {
  return createHash('sha256').update(String(ts)).update('\0').update(JSON.stringify(row, jsonSafe) ?? '').digest().subarray(0, 12).toString('base64url');
}

function jsonSafe(_key: string, v: unknown): unknown {
  return typeof v === 'bigint' ? v.toString() : v;
}
