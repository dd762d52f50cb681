import { execFile } from 'node:child_process';
import { chown, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { freePort } from './ports.js';
import { tempDir } from './tmp.js';

const run = promisify(execFile);

/** Debian's PostgreSQL 15 binaries (package postgresql-15; the service itself is never started). */
export const PG_BIN = '/usr/lib/postgresql/15/bin';

export interface Postgres {
  readonly url: string;
  readonly port: number;
  /** The postmaster's pid (changes on restart). */
  pid(): number;
  /** Stops the server as a crash would (`immediate`: no checkpoint, connections cut) or cleanly (`fast`). */
  stop(mode?: 'fast' | 'immediate'): Promise<void>;
  /** Starts it again on the same port and data directory; resolves once it accepts connections. */
  start(): Promise<void>;
  /** A query on a fresh connection (test setup and checks). */
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values?: unknown[]): Promise<pg.QueryResult<R>>;
  /** Stops the server and removes its directory. Idempotent. */
  destroy(): Promise<void>;
}

/**
 * A private PostgreSQL cluster for a test: initdb in a temp directory (as user `postgres`:
 * initdb refuses root), the server on 127.0.0.1 and an ephemeral port, its socket in the same
 * directory, trust authentication, fsync off (the OS does not crash in a test; synchronous_commit stays
 * on: with it off an immediate stop loses commits already acknowledged). `pg_ctl -w` waits until it
 * accepts connections.
 */
export async function startPostgres(): Promise<Postgres> {
  const dir = await tempDir('tributary-pg-');
  const { stdout } = await run('id', ['-u', 'postgres']);
  const uid = Number(stdout.trim());
  const { stdout: g } = await run('id', ['-g', 'postgres']);
  await chown(dir.path, uid, Number(g.trim()));
  const data = join(dir.path, 'data');
  const asPg = (cmd: string, args: string[]) => run('runuser', ['-u', 'postgres', '--', join(PG_BIN, cmd), ...args], { timeout: 120_000 });
  await asPg('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '-E', 'UTF8', '--no-sync', '--no-instructions']);
  const port = await freePort();
  const opts = `-p ${port} -k ${dir.path} -c listen_addresses=127.0.0.1 -c fsync=off`;
  let running = false;
  let postmaster = 0;
  const start = async () => {
    await asPg('pg_ctl', ['start', '-D', data, '-w', '-t', '120', '-l', join(dir.path, 'server.log'), '-o', opts]);
    postmaster = Number((await readFile(join(data, 'postmaster.pid'), 'utf8')).split('\n')[0]);
    running = true;
  };
  const stop = async (mode: 'fast' | 'immediate' = 'fast') => {
    if (!running) return;
    running = false;
    await asPg('pg_ctl', ['stop', '-D', data, '-w', '-t', '120', '-m', mode]);
  };
  await start();
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  return {
    url, port,
    pid: () => postmaster,
    stop, start,
    async query(text, values) {
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      try {
        return await c.query(text, values);
      } finally {
        await c.end();
      }
    },
    async destroy() {
      await stop('fast').catch(() => (postmaster > 0 ? process.kill(postmaster, 'SIGKILL') : undefined));
      await dir.cleanup();
    },
  };
}
