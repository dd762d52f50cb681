import test from 'ava';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ErrorCodes, TributaryError, TaskError, isTributaryError } from '@tributary/shared';
import { repoRoot } from './helpers/cli.js';

test('every error code is documented in docs/errors.md', async (t) => {
  const doc = await readFile(join(repoRoot, 'docs/errors.md'), 'utf8');
  for (const code of Object.values(ErrorCodes)) t.true(doc.includes(`\`${code}\``), `${code} is not documented`);
});

test('errors carry their code, their cause and their class name', (t) => {
  const cause = new Error('disk full');
  const err = new TaskError(ErrorCodes.SINK_FAILED, 'writing failed', { cause });
  t.is(err.code, 'TRIB_ERR_SINK_FAILED');
  t.is(err.cause, cause);
  t.is(err.name, 'TaskError');
  t.true(err instanceof TributaryError);
  t.true(isTributaryError(err));
  t.false(isTributaryError(cause));
});
