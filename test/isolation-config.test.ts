/** The `isolation`, `watchdogMs` and (workers) `standby` node settings: defaults per kind, environment, flags, bad values. */
import test from 'ava';
import { agentConfigSchema, loadConfig, workerConfigSchema } from '../shared/src/config/index.js';

test('agents and workers host applications inline by default; the watchdog reports 1 s stalls', (t) => {
  const agent = loadConfig(agentConfigSchema, { env: {}, flags: { id: 'dev-1' } });
  const worker = loadConfig(workerConfigSchema, { env: {} });
  t.is(agent.isolation, 'inline');
  t.is(worker.isolation, 'inline');
  t.is(agent.watchdogMs, 1000);
});

test('TRIBUTARY_ISOLATION and TRIBUTARY_WATCHDOG_MS set them; a flag wins over the environment', (t) => {
  const env = { TRIBUTARY_ISOLATION: 'thread', TRIBUTARY_WATCHDOG_MS: '250' };
  const fromEnv = loadConfig(agentConfigSchema, { env, flags: { id: 'dev-1' } });
  t.is(fromEnv.isolation, 'thread');
  t.is(fromEnv.watchdogMs, 250);
  t.is(loadConfig(agentConfigSchema, { env, flags: { id: 'dev-1', isolation: 'inline' } }).isolation, 'inline');
});

test('a bad isolation is a configuration error naming the setting and where it came from', (t) => {
  const err = t.throws(() => loadConfig(workerConfigSchema, { env: { TRIBUTARY_ISOLATION: 'process' } }));
  t.regex(err.message, /isolation \(env TRIBUTARY_ISOLATION\)/);
  t.regex((err as { code?: string }).code ?? '', /TRIB_ERR_CONFIG_INVALID/);
});

test('workers hold hot standbys by default; TRIBUTARY_STANDBY=off turns them off, a flag wins; a bad value is refused', (t) => {
  t.true(loadConfig(workerConfigSchema, { env: {} }).standby);
  t.false(loadConfig(workerConfigSchema, { env: { TRIBUTARY_STANDBY: 'off' } }).standby);
  t.true(loadConfig(workerConfigSchema, { env: { TRIBUTARY_STANDBY: 'off' }, flags: { standby: 'on' } }).standby);
  const err = t.throws(() => loadConfig(workerConfigSchema, { env: { TRIBUTARY_STANDBY: 'sometimes' } }));
  t.regex(err.message, /standby \(env TRIBUTARY_STANDBY\)/);
});
