import { createHash, createPublicKey, verify } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { ConfigError, agentSigningPayload } from '@tributary/shared';
import { tarGz, type TarEntry } from './tar.js';

/** The repository's deploy/ directory: install.sh and the unit template come from there. */
const deployDir = join(dirname(createRequire(import.meta.url).resolve('@tributary/cloud-core/package.json')), '..', 'deploy');

export interface DeviceBundleOptions {
  id: string;
  labels: Record<string, string>;
  /** The master's REST API as this machine reaches it: enrolment tokens, binaries, the signing key. */
  master: string;
  /** The master's URL as the device reaches it, written into its config; default `master`. */
  deviceMaster?: string;
  /** Admin token for `POST /devices` (creating the enrolment token). */
  adminToken?: string;
  /** An enrolment token created beforehand (`tributary devices add`); then the master is not asked for one. */
  enrolToken?: string;
  /** Lifetime of the enrolment token the master creates, seconds (its default is 24 h). */
  ttlSeconds?: number;
  arch: 'x64' | 'arm64';
  version: string;
  /** A local agent binary (its signature, if any, beside it as <file>.sig); default: downloaded from the master. */
  binary?: string;
  /** The master's Ed25519 public key (PEM); default: GET /signing-key. */
  masterKey?: string;
  /** The CA of the master's https certificate (PEM), for the device's agent to enrol over https. */
  ca?: string;
  out: string;
}

export interface DeviceBundle {
  out: string;
  bytes: number;
  binarySha256: string;
  signed: boolean;
  tokenExpiresAt?: string;
}

const ID = /^[A-Za-z0-9_.-]{1,64}$/;
const LABEL_KEY = /^[A-Za-z0-9_.-]+$/;

/**
 * `tributary fleet bundle`: one tarball that installs an agent on a device with no network —
 * binary, its SHA-256 and the master's signature, the master's signing key, the config, an
 * enrolment token, the systemd unit and install.sh (run `./install` inside it, or
 * `install.sh --bundle <tar>`). The token is an ordinary one (POST /devices), so the master
 * adopts the device when its agent first connects and enrols. Also used by
 * deploy/bundles-from-inventory.mjs, once per device.
 */
export async function writeDeviceBundle(o: DeviceBundleOptions): Promise<DeviceBundle> {
  if (!ID.test(o.id)) throw new ConfigError(`--id ${o.id}: ids are 1-64 letters, digits, _ . -`);
  for (const [k, v] of Object.entries(o.labels)) {
    if (!LABEL_KEY.test(k) || v === '' || /[\0-\x1f\x7f]/.test(v)) throw new ConfigError(`--label ${k}=${v}: keys are letters, digits, _ . -; values non-empty, no control characters`);
  }
  const master = o.master.replace(/\/+$/, '');
  const deviceMaster = (o.deviceMaster ?? master).replace(/\/+$/, '');
  if (!/^(https?|mqtts?):\/\/[^\s"'\\]+$/.test(deviceMaster)) throw new ConfigError(`master URL ${deviceMaster}: expected http(s)://host:port`);

  const token: { token: string; expiresAt?: string } = o.enrolToken ? { token: o.enrolToken } : await createEnrolmentToken(master, o);
  const { binary, sha256, signature } = await agentBinary(master, o);
  const key = o.masterKey ? await readFile(o.masterKey, 'utf8') : await download(master, '/signing-key', o.adminToken).then((b) => b?.toString('utf8'));
  if (signature && key && !verify(null, agentSigningPayload(sha256.toString('hex')), createPublicKey(key), signature)) {
    throw new ConfigError(`the agent binary's signature does not verify with the master's signing key: not bundling it`);
  }

  const labels = Object.keys(o.labels).sort();
  const config = { id: o.id, master: deviceMaster, labels: Object.fromEntries(labels.map((k) => [k, o.labels[k]])), data: '/var/lib/tributary' };
  const args = ['--master', deviceMaster, '--id', o.id, '--arch', o.arch, ...labels.flatMap((k) => ['--label', `${k}=${o.labels[k]}`])];
  const top = `tributary-${o.id}`;
  const file = (name: string, mode: number, data: string | Uint8Array): TarEntry => ({ name: `${top}/${name}`, mode, data: typeof data === 'string' ? Buffer.from(data) : data });
  const entries: TarEntry[] = [
    { name: `${top}/`, mode: 0o755 },
    file('install', 0o755, '#!/bin/sh\n# Installs this bundle: no network needed. Flags are passed on to install.sh (e.g. --no-systemd --prefix <dir>).\nset -e\nexec sh "$(dirname "$0")/install.sh" --bundle "$(dirname "$0")" "$@"\n'),
    file('install.sh', 0o755, await readFile(join(deployDir, 'install.sh'))),
    file('tributary-agent.service', 0o644, await readFile(join(deployDir, 'tributary-agent.service'))),
    file('agent-guard.sh', 0o755, await readFile(join(deployDir, 'agent-guard.sh'))),
    file('tributary-agent', 0o755, binary),
    file('tributary-agent.sha256', 0o644, `${sha256.toString('hex')}  tributary-agent\n`),
    ...(signature ? [file('tributary-agent.sig', 0o644, signature)] : []),
    ...(key ? [file('master-signing.pub', 0o644, key)] : []),
    ...(o.ca ? [file('master-ca.pem', 0o644, await readFile(o.ca))] : []),
    file('agent.json', 0o640, JSON.stringify(config, null, 2) + '\n'),
    file('install.args', 0o644, args.join('\n') + '\n'),
    file('enrol-token', 0o600, token.token + '\n'),
    file('README', 0o644, readme(o.id, token.expiresAt)),
  ];
  const tar = tarGz(entries);
  const out = resolve(o.out);
  await mkdir(dirname(out), { recursive: true });
  await writeFile(`${out}.tmp`, tar, { mode: 0o600 });
  await rename(`${out}.tmp`, out);
  return { out, bytes: tar.length, binarySha256: sha256.toString('hex'), signed: !!signature, ...(token.expiresAt ? { tokenExpiresAt: token.expiresAt } : {}) };
}

/** POST /devices on the master: a single-use enrolment token for this device (spec: issue 13). */
async function createEnrolmentToken(master: string, o: DeviceBundleOptions): Promise<{ token: string; expiresAt?: string }> {
  const res = await call(master, '/devices', o.adminToken, { method: 'POST', body: JSON.stringify({ id: o.id, role: 'agent', labels: o.labels, ...(o.ttlSeconds ? { ttlSeconds: o.ttlSeconds } : {}) }) });
  const body = (await res.json().catch(() => ({}))) as { token?: string; expiresAt?: string; error?: string };
  if (res.status === 404) throw new ConfigError(`the master at ${master} does not create enrolment tokens (no POST /devices): pass one with --enrol-token`);
  if (!res.ok || typeof body.token !== 'string') throw new ConfigError(`the master at ${master} refused an enrolment token for ${o.id}: ${res.status} ${body.error ?? res.statusText}`);
  return { token: body.token, ...(body.expiresAt ? { expiresAt: body.expiresAt } : {}) };
}

/** The agent binary with its SHA-256 and signature: a local file, or downloaded from the master and checked against its hash. */
async function agentBinary(master: string, o: DeviceBundleOptions): Promise<{ binary: Buffer; sha256: Buffer; signature?: Buffer }> {
  if (o.binary) {
    const binary = await readFile(o.binary).catch((cause) => { throw new ConfigError(`cannot read --binary ${o.binary}: ${(cause as Error).message}`, { cause }); });
    const sig = existsSync(`${o.binary}.sig`) ? await readFile(`${o.binary}.sig`) : undefined;
    return { binary, sha256: createHash('sha256').update(binary).digest(), ...(sig ? { signature: sig } : {}) };
  }
  const path = `/agent/${encodeURIComponent(o.version)}/linux-${o.arch}`;
  const [binary, hex, signature] = await Promise.all([download(master, path, o.adminToken), download(master, `${path}.sha256`, o.adminToken), download(master, `${path}.sig`, o.adminToken)]);
  if (!binary || !hex) throw new ConfigError(`the master at ${master} has no agent binary ${o.version} for linux-${o.arch} (GET ${path}): pass --binary <file>`);
  const sha256 = createHash('sha256').update(binary).digest();
  if (sha256.toString('hex') !== hex.toString('utf8').split(/\s/)[0]) throw new ConfigError(`the binary downloaded from ${master}${path} does not match its SHA-256`);
  return { binary, sha256, ...(signature ? { signature } : {}) };
}

/** GET, 404 = undefined (absent), anything else not 2xx = an error. */
async function download(master: string, path: string, adminToken?: string): Promise<Buffer | undefined> {
  const res = await call(master, path, adminToken, { method: 'GET' });
  if (res.status === 404) return undefined;
  if (!res.ok) throw new ConfigError(`GET ${master}${path}: ${res.status} ${res.statusText}`);
  return Buffer.from(await res.arrayBuffer());
}

async function call(master: string, path: string, adminToken: string | undefined, init: { method: string; body?: string }): Promise<Response> {
  const headers: Record<string, string> = { ...(init.body ? { 'content-type': 'application/json' } : {}), ...(adminToken ? { authorization: `Bearer ${adminToken}` } : {}) };
  try {
    return await fetch(`${master}${path}`, { ...init, headers });
  } catch (cause) {
    throw new ConfigError(`cannot reach the master at ${master}: ${(cause as Error).message}`, { cause });
  }
}

function readme(id: string, expiresAt?: string): string {
  return `Tributary agent bundle for device ${id}.

Install (as root, no network needed; the agent connects to its master when it can):
    ./install                       # from this directory
    sh install.sh --bundle <this directory or the .tar.gz>
Try it without root or systemd:
    ./install --no-systemd --prefix /tmp/trib

The enrolment token (enrol-token) is used once, on the agent's first start${expiresAt ? `, and expires at ${expiresAt}` : ''}.
Treat this bundle as a secret until then.
`;
}
