import test from 'ava';
import { join } from 'node:path';
import { Level } from 'level';
import { cborDecoder, cborEncoder, ErrorCodes, isTributaryError } from '@tributary/shared';
import { LevelReplayLog, REPLAY_LOG_FORMAT } from '@tributary/shared/store';
import { tempDir } from './helpers/tmp.js';

/**
 * The replay log's on-disk format is versioned (shared/src/store/level-replay-log.ts, docs/replay-log.md)
 * so that an agent rolled back to an older version never misreads a log a newer one wrote: it reads
 * every format up to its own, refuses a newer one with a typed error, and a log from before the
 * version key reads as format 1 with its records intact.
 */
test('a new replay log records its format; reopening keeps every record once', async (t) => {
  const dir = await tempDir('trib-replay-fmt-');
  t.teardown(dir.cleanup);
  const path = join(dir.path, 'log');
  let log = new LevelReplayLog(path);
  await log.open();
  await log.append('s', [{ ts: 1, value: 'a' }, { ts: 2, value: 'b' }], 2);
  await log.close();
  const raw = new Level<string, Uint8Array>(path, { valueEncoding: 'view' });
  await raw.open();
  t.is(cborDecoder.decode((await raw.get('v!format'))!), REPLAY_LOG_FORMAT);
  await raw.close();
  log = new LevelReplayLog(path);
  await log.open();
  const seen: number[] = [];
  for await (const b of log.read('s', 0)) seen.push(...b.records.map((r) => r.ts));
  t.deepEqual(seen, [1, 2]);
  await log.close();
});

test('a log written before the format key reads as format 1, records intact, and gets the key', async (t) => {
  const dir = await tempDir('trib-replay-fmt-');
  t.teardown(dir.cleanup);
  const path = join(dir.path, 'log');
  const log = new LevelReplayLog(path);
  await log.open();
  await log.append('s', [{ ts: 5, value: 'x' }], 5);
  await log.close();
  const raw = new Level<string, Uint8Array>(path, { valueEncoding: 'view' });
  await raw.open();
  await raw.del('v!format');
  await raw.close();
  const again = new LevelReplayLog(path);
  await again.open();
  const seen: number[] = [];
  for await (const b of again.read('s', 0)) seen.push(...b.records.map((r) => r.ts));
  t.deepEqual(seen, [5]);
  await again.close();
});

test('an older agent refuses a log in a newer format (TRIB_ERR_REPLAY_LOG_FORMAT) instead of misreading it', async (t) => {
  const dir = await tempDir('trib-replay-fmt-');
  t.teardown(dir.cleanup);
  const path = join(dir.path, 'log');
  const raw = new Level<string, Uint8Array>(path, { valueEncoding: 'view' });
  await raw.open();
  await raw.put('v!format', cborEncoder.encode(REPLAY_LOG_FORMAT + 1));
  await raw.close();
  const log = new LevelReplayLog(path);
  const err = await t.throwsAsync(() => log.open());
  t.true(isTributaryError(err) && err.code === ErrorCodes.REPLAY_LOG_FORMAT, String(err));
  t.regex(err!.message, new RegExp(`format ${REPLAY_LOG_FORMAT + 1} is newer`));
  // Refused, not opened half-way: the database is closed again and can be opened by the newer version.
  const after = new Level<string, Uint8Array>(path, { valueEncoding: 'view' });
  await after.open();
  t.is(cborDecoder.decode((await after.get('v!format'))!), REPLAY_LOG_FORMAT + 1, 'left as it was');
  await after.close();
});
