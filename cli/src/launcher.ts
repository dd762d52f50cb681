import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const bin = fileURLToPath(new URL('../bin/tributary.js', import.meta.url));

/**
 * Children still running when this process exits (a test timed out, a bench crashed) are killed
 * with it, so a failed run never leaves nodes behind that retry a dead broker forever.
 */
const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

export type LogLine = Record<string, unknown> & { msg?: string; level?: number };

/**
 * A `tributary` child process whose structured log lines (stderr) can be awaited: how the demo,
 * tests and benchmarks know a process reached a state without sleeping.
 */
export class ChildNode {
  readonly lines: LogLine[] = [];
  readonly output: string[] = [];
  private waiters: { test: (l: LogLine) => boolean; resolve: (l: LogLine) => void }[] = [];
  private lineListeners: ((l: LogLine) => void)[] = [];
  readonly exited: Promise<number | null>;

  constructor(readonly name: string, readonly child: ChildProcess) {
    let buf = '';
    child.stderr!.on('data', (chunk: Buffer) => {
      buf += chunk.toString();
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        this.onLine(buf.slice(0, nl));
        buf = buf.slice(nl + 1);
      }
    });
    child.stdout!.on('data', (c: Buffer) => this.output.push(c.toString()));
    this.exited = once(child, 'exit').then(([code]) => code as number | null);
  }

  private onLine(raw: string): void {
    this.output.push(raw);
    if (this.output.length > 500) this.output.splice(0, 100);
    if (!raw.startsWith('{')) return;
    let line: LogLine;
    try {
      line = JSON.parse(raw) as LogLine;
    } catch {
      return;
    }
    this.lines.push(line);
    if (this.lines.length > 2000) this.lines.splice(0, 500);
    for (const l of this.lineListeners) l(line);
    this.waiters = this.waiters.filter((w) => (w.test(line) ? (w.resolve(line), false) : true));
  }

  onLog(listener: (l: LogLine) => void): void {
    this.lineListeners.push(listener);
  }

  /** The first log line (past or future) that matches; rejects if the process exits first. */
  waitFor(test: (l: LogLine) => boolean, what: string): Promise<LogLine> {
    const seen = this.lines.find(test);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      this.waiters.push({ test, resolve });
      void this.exited.then((code) => reject(new Error(`${this.name} exited (${code}) before: ${what}\n${this.output.slice(-20).join('\n')}`)));
    });
  }

  /** SIGTERM (graceful) by default; resolves with the exit code. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    return this.exited;
  }
}

/**
 * V8 flags a node starts with, by role (the subcommand). Both are for the master's embedded broker,
 * which allocates about two bytes of ArrayBuffers per byte of data frames it passes on (socket
 * reads, then mqtt-packet's copy of every payload that spans two reads: every frame over 64 KB),
 * ~90 MB/s at 500 k records/s, against ~20 MB/s of JS objects. V8 counts ArrayBuffer bytes
 * allocated since the last full collection against the old generation's headroom, and starts a
 * mark-compact of the whole heap whenever they use it up.
 *  - `--max-semi-space-size=2` (V8's default grows to 16 MB): young buffers die in small, frequent
 *    scavenges instead of piling up between rare ones (session 9: 23-36 full collections in a
 *    throughput run down to 1, ~45 % less master CPU per record, ~35 MB less resident memory).
 *  - `--initial-old-space-size=64`: V8 sizes a small heap's old-generation limit at ~1.4 times
 *    what is live (~24 MB live: ~10 MB of headroom). With frames of 256 KiB (session 11), all of
 *    them copied, that headroom ran out every ~8 MB of frames: 15-22 full collections a run again,
 *    and their concurrent marking threads took about as much CPU again. A limit of at least 64 MB:
 *    0-1 full collections, ~45 % less master CPU per record, placement on 10,000 light agents
 *    5.7 -> 3.5 s, peak RSS the same or lower (bench/README.md, session 11).
 * Workers and agents keep V8's defaults: small semi-spaces made them slower (more objects
 * promoted). V8 sizes its heap when the process starts, so a master started by hand needs the same
 * flags on node's command line (README, "Run it on a cluster"; NODE_OPTIONS refuses the second).
 */
const ROLE_NODE_FLAGS: Readonly<Record<string, readonly string[]>> = { master: ['--max-semi-space-size=2', '--initial-old-space-size=64'] };

/**
 * Opt-in profiling (benchmarks, investigations), off by default:
 *  - TRIBUTARY_CPU_PROF_DIR=<dir>: every child is started with `--cpu-prof`, writing one
 *    .cpuprofile per thread (application worker threads included) into <dir>/<name>/ when it
 *    exits gracefully (SIGTERM; not SIGKILL);
 *  - TRIBUTARY_NODE_FLAGS="<flags>": extra node flags for every child, space-separated (flags
 *    NODE_OPTIONS refuses too, e.g. --trace-gc), after the role's own (ROLE_NODE_FLAGS), so the
 *    same flag given here wins.
 */
function nodeFlags(name: string, role: string | undefined): string[] {
  const flags = role !== undefined && Object.hasOwn(ROLE_NODE_FLAGS, role) ? [...ROLE_NODE_FLAGS[role]] : [];
  flags.push(...(process.env.TRIBUTARY_NODE_FLAGS ?? '').split(' ').filter((f) => f.length > 0));
  const dir = process.env.TRIBUTARY_CPU_PROF_DIR;
  if (dir) flags.push('--cpu-prof', `--cpu-prof-dir=${dir}/${name.replace(/[^\w.-]/g, '_')}`);
  return flags;
}

/**
 * Children log at info at least: their output is captured, not shown, and readiness is read from
 * their info-level lines ("master started", "worker started", …).
 */
export function spawnNode(name: string, args: string[], env: Record<string, string> = {}): ChildNode {
  const wanted = env.TRIBUTARY_LOG_LEVEL ?? process.env.TRIBUTARY_LOG_LEVEL;
  const level = wanted === 'debug' || wanted === 'trace' ? wanted : 'info';
  const child = spawn(process.execPath, [...nodeFlags(name, args[0]), bin, ...args], {
    env: { ...process.env, ...env, TRIBUTARY_LOG_LEVEL: level },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  child.once('exit', () => running.delete(child));
  return new ChildNode(name, child);
}

/**
 * Admin tokens of the masters this process launched, by HTTP origin: the demo, tests and benches
 * call those masters' REST APIs with them (`adminHeaders`).
 */
const adminTokens = new Map<string, string>();

/** `Authorization` for a master this process launched (empty for any other). */
export function adminHeaders(httpUrl: string): Record<string, string> {
  const token = adminTokens.get(new URL(httpUrl).origin);
  return token ? { authorization: `Bearer ${token}` } : {};
}

/** Records the admin token of a master started some other way (chaos/cluster.ts supervises its own). */
export function rememberAdminToken(httpUrl: string, token: string): void {
  adminTokens.set(new URL(httpUrl).origin, token);
}

/** A fresh bootstrap admin token (the master's own format: `trb_` + 32 random bytes, base64url). */
export function randomAdminToken(): string {
  return `trb_${randomBytes(32).toString('base64url')}`;
}

/** The admin token of a master this process launched, if any. */
export function adminTokenOf(httpUrl: string): string | undefined {
  return adminTokens.get(new URL(httpUrl).origin);
}

/** Polls the master's registry until every id is online (no event reaches a client for this). */
export async function waitForNodesOnline(httpUrl: string, ids: readonly string[], attempts = 300): Promise<void> {
  for (let i = 0; i < attempts; i++) {
    const nodes = (await fetch(new URL('/nodes', httpUrl), { headers: adminHeaders(httpUrl) }).then((r) => r.json())) as { id: string; online: boolean }[];
    if (ids.every((id) => nodes.some((n) => n.id === id && n.online))) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`nodes ${ids.join(', ')} did not come online`);
}

/**
 * Defaults of a launched master, before the caller's own flags (which override them: the last
 * value of a flag wins): the TLS listener on a free port, so that several masters (tests, benches)
 * never fight over 8883. Authentication is on, as for `tributary master`: nodes started through
 * nodeMasterArgs enrol (tests, benches, the demo); `--allow-anonymous-mqtt on` is for the few
 * development cases that want an open broker.
 */
const LAUNCH_DEFAULTS = ['--mqtts-port', '0'];

export async function launchMaster(args: string[], env?: Record<string, string>): Promise<{ node: ChildNode; brokerUrl: string; brokerTlsUrl: string | null; httpUrl: string; adminToken: string }> {
  const adminToken = env?.TRIBUTARY_ADMIN_TOKEN ?? randomAdminToken();
  const node = spawnNode('master', ['master', ...LAUNCH_DEFAULTS, ...args], { ...env, TRIBUTARY_ADMIN_TOKEN: adminToken });
  const started = await node.waitFor((l) => l.msg === 'master started', 'master started');
  const httpUrl = String(started.http);
  rememberAdminToken(httpUrl, adminToken);
  rememberMaster(started, [...LAUNCH_DEFAULTS, ...args], env, adminToken);
  return { node, brokerUrl: String(started.broker), brokerTlsUrl: typeof started.brokerTls === 'string' ? started.brokerTls : null, httpUrl, adminToken };
}

/** Masters this process launched, by their broker URLs (plain and TLS): where their nodes enrol. */
const launchedMasters = new Map<string, { httpUrl: string; adminToken?: string; enforcesAuth: boolean }>();

/**
 * Called by launchMaster with its 'master started' line. A master enforces authentication when it
 * enrols devices (its line names `brokerTls`, even null) and its broker does not admit anonymous
 * clients (`--allow-anonymous-mqtt`, last flag wins, else TRIBUTARY_ALLOW_ANONYMOUS_MQTT, else off).
 */
function rememberMaster(started: LogLine, args: string[], env: Record<string, string> | undefined, adminToken: string | undefined): void {
  const flag = args.lastIndexOf('--allow-anonymous-mqtt');
  const anonymous = (flag >= 0 ? args[flag + 1] : env?.TRIBUTARY_ALLOW_ANONYMOUS_MQTT ?? process.env.TRIBUTARY_ALLOW_ANONYMOUS_MQTT) ?? 'off';
  const record = { httpUrl: String(started.http), adminToken, enforcesAuth: 'brokerTls' in started && !['on', 'true', '1'].includes(anonymous.toLowerCase()) };
  for (const url of [started.broker, started.brokerTls]) if (typeof url === 'string') launchedMasters.set(url, record);
}

/**
 * The `--master` (and `--token`) arguments for node `id` of `kind` whose broker is `brokerUrl`
 * and data directory `dataDir` (tests, benches and the demo start nodes with these). For a master
 * this process launched that enforces authentication, the node enrols: a device is added
 * (`POST /devices`, role = kind) and the node gets the master's REST API and the one-time token;
 * a node whose directory already holds an identity (a restart) gets the REST API alone. For any
 * other broker: `--master <brokerUrl>`, as before.
 */
export async function nodeMasterArgs(kind: 'worker' | 'agent', id: string, brokerUrl: string, dataDir: string): Promise<string[]> {
  const m = launchedMasters.get(brokerUrl);
  if (!m?.enforcesAuth) return ['--master', brokerUrl];
  if (existsSync(join(dataDir, 'identity', 'enrolment.json'))) return ['--master', m.httpUrl];
  return ['--master', m.httpUrl, '--token', await addDevice(m, { id, role: kind })];
}

/**
 * MQTT credentials for a client of this process's own (a test's observer, a bench's consumer or
 * light agents, the demo's result reader) on the broker `brokerUrl` of a master it launched: the
 * client is added as device `id` (role `client` with topic `grants`, or `agent`), enrols with a
 * throwaway key, and logs in with its id and per-device secret. Nothing for any other broker.
 */
export async function mqttLogin(
  brokerUrl: string, id: string, role: 'client' | 'agent' = 'client', grants?: { read?: string[]; write?: string[] },
): Promise<{ username?: string; password?: string }> {
  const m = launchedMasters.get(brokerUrl);
  if (!m?.enforcesAuth) return {};
  const token = await addDevice(m, { id, role, ...(grants ? { grants } : {}) });
  const { enrol } = await import('@tributary/shared/identity');
  const dir = await mkdtemp(join(tmpdir(), 'tributary-login-'));
  try {
    const identity = await enrol({ masterUrl: m.httpUrl, id, token, role: 'agent', dataDir: dir });
    return { username: id, password: identity.secret };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** `POST /devices` on a launched master (revoking and re-adding an id registered before): the one-time token. */
async function addDevice(m: { httpUrl: string; adminToken?: string }, body: { id: string; role: string; grants?: unknown }): Promise<string> {
  const headers = { 'content-type': 'application/json', ...(m.adminToken ? { authorization: `Bearer ${m.adminToken}` } : {}) };
  const add = () => fetch(new URL('/devices', m.httpUrl), { method: 'POST', headers, body: JSON.stringify(body) });
  let res = await add();
  if (res.status === 409) {
    // Registered before, but this directory has no identity (a node started afresh): revoke, add again.
    await fetch(new URL(`/devices/${encodeURIComponent(body.id)}`, m.httpUrl), { method: 'DELETE', headers: { authorization: headers.authorization ?? '' } });
    res = await add();
  }
  if (!res.ok) throw new Error(`adding device ${body.id} to the master at ${m.httpUrl} failed: HTTP ${res.status} ${await res.text()}`);
  return ((await res.json()) as { token: string }).token;
}

export async function launchNode(kind: 'worker' | 'agent', id: string, args: string[], env?: Record<string, string>): Promise<ChildNode> {
  const node = spawnNode(id, [kind, '--id', id, ...args], env);
  await node.waitFor((l) => l.msg === `${kind} started`, `${kind} started`);
  return node;
}
