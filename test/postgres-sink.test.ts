import test, { type ExecutionContext } from 'ava';
import { builtinConnectors, createSink, ErrorCodes, postgresSink, type Message, type PostgresSinkOptions, type Sink, type SinkContext } from '@tributary/shared';
import type { PostgresSink } from '../shared/src/connectors/postgres-sink.js';
import { silent } from './helpers/mqtt.js';
import { startPostgres, type Postgres } from './helpers/postgres.js';

/** One private PostgreSQL for the file (each test its own tables); the restart test starts its own. */
let db: Postgres;
test.before(async () => {
  db = await startPostgres();
});
test.after.always(async () => {
  await db?.destroy();
});

interface Reading {
  device: string;
  seq: number;
  v: number;
}

function ctx(exactlyOnce: boolean, resume: boolean, taskIndex = 0): SinkContext {
  return { taskIndex, parallelism: 1, log: silent, exactlyOnce, resume };
}

async function openSink<T>(t: ExecutionContext, options: PostgresSinkOptions<T>, context: SinkContext): Promise<Sink<T> & PostgresSink<T>> {
  const sink = createSink(postgresSink<T>(options), builtinConnectors) as Sink<T> & PostgresSink<T>;
  await sink.open(context);
  t.teardown(() => sink.close());
  return sink;
}

const readings = (from: number, to: number, device = 'd1'): Message<Reading>[] =>
  Array.from({ length: to - from }, (_, i) => ({ ts: 1000 + from + i, value: { device, seq: from + i, v: (from + i) * 10 } }));

async function table(name: string, extra = ''): Promise<void> {
  await db.query(`CREATE TABLE ${name} (device text NOT NULL, seq integer NOT NULL, v integer NOT NULL${extra})`);
}

async function rows(name: string): Promise<string[]> {
  const r = await db.query<{ device: string; seq: number; v: number }>(`SELECT device, seq, v FROM ${name} ORDER BY device, seq, v`);
  return r.rows.map((x) => `${x.device}/${x.seq}=${x.v}`);
}

const expected = (msgs: readonly Message<Reading>[]) => msgs.map((m) => `${m.value.device}/${m.value.seq}=${m.value.v}`).sort();
const sortedRows = async (name: string) => (await rows(name)).sort();

test('batches land in one transaction each, and the progress row counts them', async (t) => {
  await table('land');
  const sink = await openSink<Reading>(t, { url: db.url, table: 'land', columns: ['device', 'seq', 'v'], batchSize: 7 }, ctx(true, false));
  await sink.write(readings(0, 20));
  await sink.write(readings(20, 25));
  t.deepEqual(await sortedRows('land'), expected(readings(0, 25)));
  const p = await db.query<{ seq: string }>(`SELECT seq FROM tributary_sink_progress WHERE sink = 'land' AND task = 0`);
  t.is(p.rows[0]?.seq, '2', 'one progress step per write()');
  const e = await db.query<{ n: string }>(`SELECT count(*) AS n FROM tributary_sink_emitted WHERE sink = 'land'`);
  t.is(e.rows[0]?.n, '25', 'one emitted entry per result');
});

test('a recovery after a crash between commits writes nothing twice and what was not committed once', async (t) => {
  await table('replay');
  const opts: PostgresSinkOptions<Reading> = { url: db.url, table: 'replay', columns: ['device', 'seq', 'v'] };
  const twin: Message<Reading> = { ts: 1004, value: { device: 'd1', seq: 4, v: 40 } };
  const first = await openSink(t, opts, ctx(true, false));
  await first.write([...readings(0, 6), twin]); // committed, a result occurring twice included
  await first.write(readings(6, 10)); // committed
  await first.close(); // crash: batch 10..14 never reached the database

  // The replay from an earlier checkpoint re-emits 2..9 (and the twin) in other batches, then the rest.
  const second = await openSink(t, opts, ctx(true, true));
  await second.write([...readings(2, 5), twin, ...readings(5, 8)]);
  await second.write([...readings(8, 12)]);
  await second.write(readings(12, 15));
  t.deepEqual(await sortedRows('replay'), expected([...readings(0, 15), twin]), 'every result once, the twin twice as in a failure-free run');

  // A second crash right away: everything replayed again is skipped.
  await second.close();
  const third = await openSink(t, opts, ctx(true, true));
  await third.write([...readings(0, 15), twin]);
  t.deepEqual(await sortedRows('replay'), expected([...readings(0, 15), twin]));
});

test('without resume a new submission starts over; without exactly-once repeats are written', async (t) => {
  await table('fresh');
  const opts: PostgresSinkOptions<Reading> = { url: db.url, table: 'fresh', columns: ['device', 'seq', 'v'] };
  const a = await openSink(t, opts, ctx(true, false));
  await a.write(readings(0, 3));
  await a.close();
  const b = await openSink(t, opts, ctx(true, false));
  await b.write(readings(0, 3));
  t.is((await rows('fresh')).length, 6, 'a new submission\'s results are new rows');
  await b.close();
  const plain = await openSink(t, opts, ctx(false, true));
  await plain.write(readings(0, 3));
  t.is((await rows('fresh')).length, 9);
});

test('rows the table refuses go to the refused table with the database\'s message; the rest of the batch is written', async (t) => {
  await table('strict', ', CHECK (v < 1000)');
  const opts: PostgresSinkOptions<Reading> = { url: db.url, table: 'strict', toRow: (r) => ({ device: r.device, seq: r.seq, v: r.v }), refusedTable: 'strict_refused' };
  const sink = await openSink(t, opts, ctx(true, false));
  const tooBig: Message<Reading> = { ts: 1500, value: { device: 'd1', seq: 500, v: 5000 } };
  const notInt = { ts: 1501, value: { device: 'd1', seq: 501, v: 'many' } } as unknown as Message<Reading>;
  const batch = [...readings(0, 5), tooBig, ...readings(5, 8), notInt, ...readings(8, 10)];
  await sink.write(batch);
  t.deepEqual(await sortedRows('strict'), expected(readings(0, 10)), 'the valid rows of the batch are written');
  const refused = await db.query<{ ts: number; code: string; message: string; row: Reading }>('SELECT ts, code, message, "row" FROM strict_refused ORDER BY ts');
  t.deepEqual(refused.rows.map((r) => [r.ts, r.code, r.row.seq]), [[1500, '23514', 500], [1501, '22P02', 501]]);
  t.regex(refused.rows[0]!.message, /violates check constraint/);
  t.regex(refused.rows[1]!.message, /invalid input syntax for type integer/);
  t.is(sink.refusedRows, 2);

  // A replay after a crash neither writes nor reports them again.
  await sink.close();
  const again = await openSink(t, opts, ctx(true, true));
  await again.write(batch);
  t.is((await db.query('SELECT * FROM strict_refused')).rowCount, 2);
  t.is((await rows('strict')).length, 10);
  t.is(again.refusedRows, 0);
});

test('upserts: a natural key (device, window start) keeps the latest result, also twice in one batch', async (t) => {
  await db.query('CREATE TABLE win (device text, window_start bigint, count integer, PRIMARY KEY (device, window_start))');
  const opts: PostgresSinkOptions<{ device: string; start: number; count: number }> = {
    url: db.url, table: 'win', toRow: (r) => ({ device: r.device, window_start: r.start, count: r.count }), upsertKey: ['device', 'window_start'],
  };
  const sink = await openSink(t, opts, ctx(true, false));
  const w = (device: string, start: number, count: number, ts = start + 999) => ({ ts, value: { device, start, count } });
  await sink.write([w('a', 0, 1), w('b', 0, 2), w('a', 0, 3, 1500)]);
  await sink.write([w('a', 1000, 4), w('b', 0, 5, 1600)]);
  const r = await db.query<{ device: string; window_start: string; count: number }>('SELECT device, window_start, count FROM win ORDER BY device, window_start');
  t.deepEqual(r.rows.map((x) => `${x.device}@${x.window_start}=${x.count}`), ['a@0=3', 'a@1000=4', 'b@0=5']);
});

test('checkpoint(t) prunes emitted entries no replay can re-emit', async (t) => {
  await table('prune');
  const sink = await openSink<Reading>(t, { url: db.url, table: 'prune', columns: ['device', 'seq', 'v'] }, ctx(true, false));
  const count = async () => Number((await db.query<{ n: string }>(`SELECT count(*) AS n FROM tributary_sink_emitted WHERE sink = 'prune'`)).rows[0]!.n);
  await sink.write(readings(0, 10)); // ts 1000..1009
  await sink.checkpoint(1010);
  await sink.write(readings(10, 20));
  await sink.checkpoint(1020);
  t.is(await count(), 20, 'no checkpoint complete yet: all kept');
  sink.checkpointComplete(1010);
  await sink.checkpoint(1030);
  t.is(await count(), 10, 'results before the complete checkpoint 1010, written before it, are gone');
});

test('a second instance of a sink task fences off the first (a zombie after a recovery)', async (t) => {
  await table('fence');
  const opts: PostgresSinkOptions<Reading> = { url: db.url, table: 'fence', columns: ['device', 'seq', 'v'] };
  const zombie = await openSink(t, opts, ctx(true, false));
  await zombie.write(readings(0, 2));
  const successor = await openSink(t, opts, ctx(true, true));
  const err = await t.throwsAsync(async () => zombie.write(readings(2, 4)));
  t.is((err as { code?: string }).code, ErrorCodes.SINK_FENCED);
  await successor.write(readings(0, 4));
  t.deepEqual(await sortedRows('fence'), expected(readings(0, 4)));
});

test('a PostgreSQL restart mid-run: write() waits and retries, nothing lost or duplicated', async (t) => {
  const own = await startPostgres();
  t.teardown(() => own.destroy());
  await own.query('CREATE TABLE flaky (device text NOT NULL, seq integer NOT NULL, v integer NOT NULL)');
  const sink = await openSink<Reading>(t, { url: own.url, table: 'flaky', columns: ['device', 'seq', 'v'], retryMaxDelayMs: 200 }, ctx(true, false));
  const batches = Array.from({ length: 60 }, (_, i) => readings(i * 50, (i + 1) * 50));
  let reached!: () => void;
  const tenWritten = new Promise<void>((resolve) => (reached = resolve));
  const writer = (async () => {
    for (const [i, b] of batches.entries()) {
      await sink.write(b);
      if (i === 10) reached();
    }
  })();
  await tenWritten;
  await own.stop('immediate'); // as a crash: connections cut, in-flight transactions lost
  await own.start();
  await writer;
  const r = await own.query<{ n: string; d: string }>('SELECT count(*) AS n, count(DISTINCT seq) AS d FROM flaky');
  t.deepEqual(r.rows[0], { n: '3000', d: '3000' }, 'every row once');
  t.true(sink.retries > 0, 'the sink lost the database and retried');
});

test('options are checked when the application is built', (t) => {
  const url = 'postgres://u@127.0.0.1:5432/db';
  t.throws(() => postgresSink({ url: 'mysql://x', table: 't', columns: ['a'] }), { instanceOf: TypeError });
  t.throws(() => postgresSink({ url, table: 't; drop', columns: ['a'] }), { instanceOf: TypeError });
  t.throws(() => postgresSink({ url, table: 't' }), { instanceOf: TypeError, message: /columns, toRow/ });
  t.throws(() => postgresSink({ url, table: 't', columns: ['a'], upsertKey: ['b'] }), { instanceOf: TypeError });
  t.throws(() => postgresSink({ url, table: 't', columns: ['a'], batchSize: 0 }), { instanceOf: TypeError });
  const spec = postgresSink({ url, table: 'plant.windows', columns: ['a'] });
  t.is(spec.name, 'postgres(plant.windows)');
  t.is(spec.connector?.type, 'postgres');
});
