import type { AgentConfigReport } from '@tributary/shared';
import { ConfigLayer } from './config-layer.js';

/** Something settleAtStart did, logged by the caller once its logger exists. */
export interface StartNote {
  level: 'info' | 'warn' | 'error';
  event: string;
  fields: Record<string, unknown>;
  msg: string;
}

export interface SettledConfig<T> {
  /** The agent's configuration: file, remote layer, environment, flags, validated. */
  config: T;
  /** The remote layer in force (absent: the file alone) and its SHA-256 ('none'). */
  settings?: Record<string, unknown>;
  version: string;
  /** What the agent reports first (AgentUpdateReport.config). */
  report: AgentConfigReport;
  /** The remote layer in force is on trial: RemoteConfig.watch decides. */
  onTrial: boolean;
  notes: StartNote[];
}

/**
 * How many starts a remote configuration on trial gets without proving healthy (a crash loop)
 * before the previous one comes back, as the start guard's TRIBUTARY_UPDATE_MAX_STARTS for binaries.
 */
export const CONFIG_MAX_STARTS = Number(process.env.TRIBUTARY_UPDATE_MAX_STARTS) || 3;

/**
 * Settles the remote configuration layer (`<data>/agent/config.*`, config-layer.ts) at the start
 * of the agent, before anything else runs: temporaries of an interrupted write are removed; a trial
 * that names a layer that is not in force (the switch never happened) is cleared; a layer on trial
 * counts this start and goes back to the previous one after CONFIG_MAX_STARTS starts (a crash loop)
 * or past its deadline; a layer that cannot be loaded (not JSON, or `load` throws: the schema, the
 * host) goes back at once instead of crashing the agent. `load` merges a layer into the agent's
 * configuration (loadConfig with `remote`) and throws when it does not validate; `load(undefined)`
 * is the file alone, which the caller has already loaded once (its errors are the caller's).
 * Called by runAgent (edge-agent/src/main.ts).
 */
export function settleAtStart<T>(dir: string, load: (settings: Record<string, unknown> | undefined) => T, maxStarts = CONFIG_MAX_STARTS): SettledConfig<T> {
  const store = new ConfigLayer(dir);
  const notes: StartNote[] = [];
  const temps = store.cleanTemps();
  if (temps.length > 0) notes.push({ level: 'warn', event: 'config-write-interrupted', fields: { files: temps }, msg: 'unfinished remote configuration writes removed: what was in force stays' });

  let trial = store.trial();
  const cur = store.current();
  if (trial && trial.sha256 !== cur?.sha256) {
    const last = store.result();
    if (!(last?.state === 'rolled-back' && last.sha256 === trial.sha256)) {
      store.setResult({ state: 'failed', sha256: trial.sha256, reason: `the switch to ${trial.sha256} did not happen (interrupted); still on ${cur?.sha256 ?? 'none'}` });
    }
    store.clearTrial();
    notes.push({ level: 'warn', event: 'config-trial-cleared', fields: { target: trial.sha256 }, msg: 'a remote configuration switch that never happened was cleared' });
    trial = null;
  }
  if (trial) {
    const starts = trial.starts + 1;
    const reason = starts > maxStarts ? `crash loop: ${starts - 1} starts without proving healthy`
      : Date.now() > trial.deadline * 1000 ? 'not healthy by its deadline (restarted after it)' : null;
    if (reason) {
      store.rollBack(trial.sha256, reason);
      notes.push({ level: 'error', event: 'config-rolled-back', fields: { target: trial.sha256, reason }, msg: 'remote configuration rolled back' });
      trial = null;
    } else {
      trial = { ...trial, starts };
      store.setTrial(trial);
    }
  }

  // At most twice: the layer in force, then (if it does not load) the one a rollback restored.
  for (let attempt = 0; ; attempt++) {
    const layer = store.current();
    if (!layer) return done(load(undefined), undefined, 'none');
    let why: string;
    if (!layer.parsed.ok) {
      why = `the remote configuration cannot be loaded: ${layer.parsed.reason}`;
    } else {
      try {
        return done(load(layer.parsed.settings), layer.parsed.settings, layer.sha256);
      } catch (err) {
        why = `the remote configuration cannot be loaded: ${(err as Error).message}`;
      }
    }
    if (attempt > 0) {
      // The previous layer no longer loads either (the file changed under it): the file alone.
      store.setResult({ state: 'failed', sha256: layer.sha256, reason: why });
      store.drop();
      notes.push({ level: 'error', event: 'config-dropped', fields: { version: layer.sha256, reason: why }, msg: 'remote configuration dropped: running with the file alone' });
      return done(load(undefined), undefined, 'none');
    }
    store.rollBack(layer.sha256, why);
    notes.push({ level: 'error', event: 'config-rolled-back', fields: { target: layer.sha256, reason: why }, msg: 'remote configuration rolled back' });
    trial = null;
  }

  function done(config: T, settings: Record<string, unknown> | undefined, version: string): SettledConfig<T> {
    const last = store.result();
    const onTrial = trial !== null && trial.sha256 === version;
    const report: AgentConfigReport = onTrial && trial
      ? { version, state: 'trial', target: version, reason: `start ${trial.starts}; must be healthy by ${new Date(trial.deadline * 1000).toISOString()}` }
      : last ? { version, state: last.state, target: last.sha256, ...(last.reason ? { reason: last.reason } : {}) } : { version, state: 'idle' };
    return { config, ...(settings ? { settings } : {}), version, report, onTrial, notes };
  }
}
