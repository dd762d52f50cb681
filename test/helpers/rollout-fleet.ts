import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { nodeMasterArgs } from '../../cli/src/launcher.js';
import { api, startMaster, until, waitForNodesOnline, type RunningMaster } from './cluster.js';
import { Supervisor, runGuard } from './supervise.js';
import { tempDir } from './tmp.js';

export const ARCH = process.arch;

/** An agent version the master serves: a script (its text) or a binary file (copied). */
export type AgentVersion = { script: string } | { file: string };

export interface Fleet {
  dir: string;
  master: RunningMaster;
  agents: Map<string, Supervisor>;
  ids: string[];
  stop(): Promise<void>;
}

/**
 * A master serving agent `versions` (<agent dir>/<version>/tributary-agent-linux-<arch>, hashed
 * and signed by it) and `n` devices dev-1..dev-n, each installed as install.sh does (the first
 * version in a slot, `current` -> it) and enrolled with a token, run by a Supervisor (systemd's
 * part: the guard, then `current`, restart on exit). Used by test/rollout*.test.ts.
 */
export async function startFleet(o: { n: number; versions: Record<string, AgentVersion>; installed: string; agentEnv?: Record<string, string>; replayLog?: boolean }): Promise<Fleet> {
  const dir = await tempDir('trib-rollout-');
  const agentDir = join(dir.path, 'agents');
  for (const [v, a] of Object.entries(o.versions)) {
    const path = join(agentDir, v, `tributary-agent-linux-${ARCH}`);
    await mkdir(join(agentDir, v), { recursive: true });
    if ('script' in a) await writeFile(path, a.script, { mode: 0o755 });
    else await copyFile(a.file, path);
  }
  // Anonymous MQTT off: the agents enrol with a token and connect with their own identity; the
  // master creates its signing key at first start and devices get its public half at enrolment.
  const master = await startMaster(join(dir.path, 'master'), ['--agent-dir', agentDir, '--allow-anonymous-mqtt', 'off']);
  const ids = Array.from({ length: o.n }, (_, i) => `dev-${i + 1}`);
  const agents = new Map<string, Supervisor>();
  for (const id of ids) {
    const data = join(dir.path, id);
    await mkdir(data, { recursive: true });
    const factory = join(agentDir, o.installed, `tributary-agent-linux-${ARCH}`);
    const g = await runGuard(['--install', join(data, 'agent'), factory, o.installed]);
    if (g.code !== 0) throw new Error(g.stderr);
    // An enrolment token from the master (POST /devices), as `tributary devices add` gives one.
    const [, masterUrl, , token] = await nodeMasterArgs('agent', id, master.brokerUrl, data);
    const config = join(data, 'agent.json');
    await writeFile(config, JSON.stringify({
      id, master: masterUrl, ...(token ? { enrolToken: token } : {}), labels: { fleet: 'test', dev: id }, data, heartbeatMs: 500, logLevel: 'info', replayLog: o.replayLog ?? false,
      updateDeadlineS: 60, updateHealthyMs: 1000,
    }));
    agents.set(id, new Supervisor({ id, agentDir: join(data, 'agent'), factory, config, ...(o.agentEnv ? { agentEnv: o.agentEnv } : {}) }).start());
  }
  await waitForNodesOnline(master.httpUrl, ids);
  return {
    dir: dir.path, master, agents, ids,
    stop: async () => {
      await Promise.all([...agents.values()].map((a) => a.stop()));
      await master.proc.stop();
      await dir.cleanup();
    },
  };
}

/** Starts an agent rollout (POST /rollouts) and waits until it has ended; the rollout as GET /rollouts/:id has it. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function rolloutAndWait(f: Fleet, body: Record<string, unknown>): Promise<any> {
  const r = await api(f.master.httpUrl, '/rollouts', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ kind: 'agent', ...body }) });
  if (r.status !== 201) throw new Error(`POST /rollouts: ${r.status} ${JSON.stringify(r.body)}`);
  return until(`rollout ${r.body.id} to end`, async () => {
    const x = await api(f.master.httpUrl, `/rollouts/${r.body.id}`);
    return ['succeeded', 'aborted', 'superseded'].includes(x.body.state) ? x.body : undefined;
  }, 1200, 250);
}

/** Each device's agent version, as the master's registry has it from hellos and heartbeats. */
export async function fleetVersions(f: Fleet): Promise<Record<string, string>> {
  const nodes = (await api(f.master.httpUrl, '/nodes')).body as { id: string; agent?: { version: string } }[];
  return Object.fromEntries(nodes.map((n) => [n.id, n.agent?.version ?? '?']));
}
