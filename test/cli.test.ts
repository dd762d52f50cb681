import test from 'ava';
import { join } from 'node:path';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { repoRoot, tributary } from './helpers/cli.js';

test.before(() => mkdir(join(repoRoot, 'test-output'), { recursive: true }));
import { tempDir } from './helpers/tmp.js';

test('a missing parameter is a coded error naming it, exit 1', async (t) => {
  const r = await tributary(['run', 'examples/wordcount.ts', '--param', 'input=x']);
  t.is(r.code, 1);
  t.regex(r.stderr, /error \[TRIB_ERR_PARAM_INVALID\]: missing required parameter: --param output=<value>/);
});

test('a malformed --param, a missing app and a bad default export are clear errors', async (t) => {
  const bad = await tributary(['run', 'examples/wordcount.ts', '--param', 'novalue']);
  t.is(bad.code, 1);
  t.regex(bad.stderr, /TRIB_ERR_PARAM_INVALID.*key=value/);

  const missing = await tributary(['run', 'examples/nope.ts']);
  t.is(missing.code, 1);
  t.regex(missing.stderr, /error \[TRIB_ERR_APP_INVALID\]: cannot load application examples\/nope\.ts/);

  const dir = await tempDir();
  t.teardown(dir.cleanup);
  const app = join(dir.path, 'not-an-app.mjs');
  await writeFile(app, 'export default 42;\n');
  const notApp = await tributary(['run', app]);
  t.is(notApp.code, 1);
  t.regex(notApp.stderr, /TRIB_ERR_APP_INVALID.*default export must be a pipeline/);
});

test('an unreadable input file fails the run with the source error, exit 1', async (t) => {
  const dir = await tempDir();
  t.teardown(dir.cleanup);
  const r = await tributary(['run', 'examples/wordcount.ts', '--param', `input=${join(dir.path, 'absent.txt')}`, '--param', `output=${join(dir.path, 'o')}`]);
  t.is(r.code, 1);
  t.regex(r.stderr, /TRIB_ERR_SOURCE_FAILED.*cannot open input file/);
});

test('user code that throws fails the run with TRIB_ERR_TASK_FAILED naming the task', async (t) => {
  const dir = await tempDir();
  t.teardown(dir.cleanup);
  const input = join(dir.path, 'in.txt');
  await writeFile(input, 'a\nb\nboom\nc\n');
  // An application lives in a project that depends on `tributary`: here, a folder of this repo.
  const appDir = await mkdtemp(join(repoRoot, 'test-output', 'app-'));
  t.teardown(() => rm(appDir, { recursive: true, force: true }));
  const app = join(appDir, 'throws.mts');
  await writeFile(app, `
    import { pipeline, linesSource, stdoutSink } from 'tributary';
    export default pipeline('throws').source(linesSource(${JSON.stringify(input)}))
      .map((l: string) => { if (l === 'boom') throw new Error('cannot handle boom'); return l; })
      .sink(stdoutSink());
  `);
  const r = await tributary(['run', app], {});
  t.is(r.code, 1);
  t.regex(r.stderr, /error \[TRIB_ERR_TASK_FAILED\]: task lines\(.*\) > map > stdout#0 failed: cannot handle boom/);
});

test('--help documents the commands', async (t) => {
  const r = await tributary(['--help']);
  t.is(r.code, 0);
  for (const cmd of ['run', 'plan', 'demo']) t.regex(r.stdout, new RegExp(`\\b${cmd}\\b`));
});
