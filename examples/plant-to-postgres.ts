/**
 * Plant monitoring into PostgreSQL: the pipeline of plant-monitor.ts (simulated sensors, a
 * plausibility threshold and downsampling on every edge agent; per device and sensor tumbling-window
 * statistics in the cloud), with each window written as a row of a table that dashboards and
 * reports query. With checkpoints on (the master's default), every row is there exactly once, also
 * after workers, agents, the master or the database failed.
 *
 *   npx tributary submit examples/plant-to-postgres.ts \
 *     --param postgres=postgres://tributary:secret@db.example:5432/plant [--param table=plant_windows] [--param upsert=true]
 *
 * The table is created when missing. Rows the table refuses land in `tributary_sink_refused`.
 */
import { jsonLinesSink, pipeline, postgresSink, type Params } from 'tributary';
import { plantWindows, settings, type PlantWindow } from './plant-monitor.js';

export default (params: Params) => {
  const s = settings(params);
  const table = params.string('table', 'plant_windows');
  const upsert = params.has('upsert') && !['false', '0'].includes(params.string('upsert'));
  const site = params.has('site') ? { site: params.string('site') } : undefined;
  const app = pipeline('plant-to-postgres');
  // Readings that arrive behind the clock, as JSON lines on the worker, when `late` names a file.
  if (params.has('late')) app.late(jsonLinesSink(params.string('late')));
  if (params.has('idleTimeoutMs')) app.idleTimeout(params.integer('idleTimeoutMs'));
  return plantWindows(app, s, site)
    .sink(postgresSink<PlantWindow>({
      url: params.string('postgres', 'postgres://postgres@127.0.0.1:5432/postgres'),
      table,
      setup: `CREATE TABLE IF NOT EXISTS ${table} (
        device text NOT NULL, sensor text NOT NULL, window_start bigint NOT NULL, window_end bigint NOT NULL,
        count integer NOT NULL, min double precision, max double precision, avg double precision,
        PRIMARY KEY (device, sensor, window_start))`,
      toRow: (w) => ({ device: w.device, sensor: w.sensor, window_start: w.windowStart, window_end: w.windowEnd, count: w.count, min: w.min, max: w.max, avg: w.avg }),
      // Upserts keep the latest result of a window (key + window start): idempotent by themselves.
      upsertKey: upsert ? ['device', 'sensor', 'window_start'] : undefined,
      sinkId: `plant-to-postgres/${table}`,
    }));
};
