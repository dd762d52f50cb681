import type pg from 'pg';
import { ErrorCodes, TributaryError } from '../api/errors.js';
import type { Logger } from '../log/log.js';
import { classify } from './postgres-sql.js';

/**
 * The PostgreSQL sink's one connection (postgres-sink.ts), made on first use and after it broke,
 * and its retry loop: what a sink task's open(), write() and checkpoint() run their statements
 * through, so that a lost database makes them wait instead of fail.
 */
export class PostgresConnection {
  private client: pg.Client | null = null;
  private closed = false;
  private wake: (() => void) | null = null;
  /** Connection losses retried so far. */
  retries = 0;

  constructor(
    private readonly url: string,
    /** For messages: the sink's table. */
    private readonly label: string,
    private readonly retryMaxDelayMs: number,
    private readonly log: () => Logger | null,
  ) {}

  /**
   * Runs `fn` on a live connection; a connection error drops it and tries again after a pause
   * (100 ms doubling to retryMaxDelayMs) until it works, the sink closes, or the deadline passes.
   * Other errors fail the sink (TRIB_ERR_SINK_FAILED unless already typed).
   */
  async retrying<R>(what: string, fn: (c: pg.Client) => Promise<R>, deadline?: number): Promise<R> {
    let delay = 100;
    for (;;) {
      if (this.closed) throw new TributaryError(ErrorCodes.SINK_FAILED, `postgresSink(${this.label}) closed during ${what}`);
      try {
        return await fn(await this.connection());
      } catch (err) {
        if (err instanceof TributaryError) throw err;
        const message = (err as Error)?.message ?? String(err);
        if (classify(err) !== 'connection') {
          throw new TributaryError(ErrorCodes.SINK_FAILED, `postgresSink(${this.label}) ${what} failed: ${message}`, { cause: err });
        }
        this.drop();
        if (deadline !== undefined && Date.now() + delay > deadline) {
          throw new TributaryError(ErrorCodes.SINK_FAILED, `postgresSink cannot reach the database for ${this.label}: ${message}`, { cause: err });
        }
        this.retries++;
        this.log()?.warn({ table: this.label, err: message, retryInMs: delay }, `postgresSink: ${what} lost the database, retrying`);
        await this.pause(delay);
        delay = Math.min(delay * 2, this.retryMaxDelayMs);
      }
    }
  }

  /** Stops retrying and ends the connection (bounded: a server that is gone never says goodbye). */
  async close(): Promise<void> {
    this.closed = true;
    this.wake?.();
    const c = this.client;
    this.client = null;
    if (!c) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([c.end().catch(() => undefined), new Promise<void>((resolve) => (timer = setTimeout(resolve, 2000)))]);
    clearTimeout(timer);
  }

  /** One connection per sink task, named `tributary-sink` in pg_stat_activity. */
  private async connection(): Promise<pg.Client> {
    if (this.client) return this.client;
    // Loaded on first use: a process that runs no PostgreSQL sink (an edge agent) never loads the driver.
    const { default: driver } = await import('pg');
    const client = new driver.Client({ connectionString: this.url, connectionTimeoutMillis: 10_000, keepAlive: true, application_name: 'tributary-sink' });
    // An idle connection's error (the server went away) arrives here; the next query fails and reconnects.
    client.on('error', (err) => {
      this.log()?.warn({ table: this.label, err: err.message }, 'postgresSink: connection error');
      if (this.client === client) this.client = null;
    });
    try {
      await client.connect();
    } catch (err) {
      client.end().catch(() => undefined);
      throw err;
    }
    if (this.closed) {
      // Closed while connecting: the connection must not outlive the sink.
      client.end().catch(() => undefined);
      throw new Error('postgresSink closed while connecting');
    }
    this.client = client;
    return client;
  }

  private drop(): void {
    const c = this.client;
    this.client = null;
    c?.end().catch(() => undefined);
  }

  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wake = null;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wake = done;
    });
  }
}
