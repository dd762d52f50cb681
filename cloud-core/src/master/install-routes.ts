import { createHash, createPrivateKey, sign, type KeyObject } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { agentSigningPayload, type Logger } from '@tributary/shared';

/** The repository's deploy/ directory: install.sh and the unit template. */
export const deployDir = join(dirname(createRequire(import.meta.url).resolve('@tributary/cloud-core/package.json')), '..', 'deploy');

export interface InstallRoutesOptions {
  /** Where the agent binaries are: `tributary-agent-linux-<arch>` (latest) and `<version>/tributary-agent-linux-<arch>`. Default dist/ of this checkout (where `npm run build:agent` writes them). */
  agentDir?: string;
  /** The master's data directory: the binaries' signatures use `<data>/pki/signing.key` (Ed25519, PEM) when it exists. */
  dataDir?: string;
  /** The URL written into the served install.sh; default: the scheme and Host the device used. */
  publicUrl?: string;
  log: Logger;
}

const ARCH_FILE = /^linux-(x64|arm64)(\.sha256|\.sig)?$/;
const VERSION = /^[0-9A-Za-z][0-9A-Za-z._-]{0,63}$/;

/**
 * Device installation, served without an admin token (the enrolment token is the device's
 * credential, and none of this is secret): `GET /install.sh` (deploy/install.sh with this master's
 * URL and the systemd unit template filled in) and the agent binaries with their SHA-256 and the
 * master's Ed25519 signature over that digest (shared/src/wire/agent-signature.ts; raw 64 bytes),
 * which install.sh checks with openssl. Registered by
 * buildHttpApi (http-api.ts); used by devices (`curl … /install.sh | sh`) and `tributary fleet bundle`.
 */
export function registerInstallRoutes(app: FastifyInstance, opts: InstallRoutesOptions): void {
  const agentDir = opts.agentDir ?? join(deployDir, '..', 'dist');
  const digests = new Map<string, { mtimeMs: number; size: number; sha256: Buffer }>();

  app.get('/install.sh', async (req, reply) => {
    const [script, unit, guard] = await Promise.all(['install.sh', 'tributary-agent.service', 'agent-guard.sh'].map((f) => readFile(join(deployDir, f), 'utf8')));
    const master = (opts.publicUrl ?? `${req.protocol}://${req.headers.host ?? req.hostname}`).replace(/\/+$/, '');
    const body = script!
      .replace(/^EMBEDDED_MASTER=''$/m, () => `EMBEDDED_MASTER=${shQuote(master)}`)
      .replace(/^EMBEDDED_UNIT=''$/m, () => `EMBEDDED_UNIT=${shQuote(unit!.trimEnd())}`)
      .replace(/^EMBEDDED_GUARD=''$/m, () => `EMBEDDED_GUARD=${shQuote(guard!.trimEnd())}`);
    return reply.type('text/x-shellscript; charset=utf-8').header('cache-control', 'no-store').send(body);
  });

  app.get<{ Params: { version: string; file: string } }>('/agent/:version/:file', async (req, reply) => {
    const { version, file } = req.params;
    const m = ARCH_FILE.exec(file);
    if (!m || !VERSION.test(version)) return reply.code(404).send({ error: `no agent file ${version}/${file} (expected <version>/linux-x64|linux-arm64[.sha256|.sig])` });
    const path = join(agentDir, ...(version === 'latest' ? [] : [version]), `tributary-agent-linux-${m[1]}`);
    const info = await stat(path).catch(() => undefined);
    if (!info?.isFile()) return reply.code(404).send({ error: `no agent binary ${version} for linux-${m[1]} on this master` });
    if (!m[2]) {
      return reply.type('application/octet-stream').header('content-length', info.size).send(createReadStream(path));
    }
    let d = digests.get(path);
    if (!d || d.mtimeMs !== info.mtimeMs || d.size !== info.size) {
      d = { mtimeMs: info.mtimeMs, size: info.size, sha256: await sha256File(path) };
      digests.set(path, d);
    }
    if (m[2] === '.sha256') return reply.type('text/plain').send(`${d.sha256.toString('hex')}  tributary-agent-linux-${m[1]}\n`);
    const key = await signingKey(opts.dataDir);
    if (!key) return reply.code(404).send({ error: 'this master has no signing key (<data>/pki/signing.key): binaries are served unsigned' });
    return reply.type('application/octet-stream').send(sign(null, agentSigningPayload(d.sha256.toString('hex')), key));
  });
}

/** The master's Ed25519 signing key, read per request: `tributary certs init` may create it after the master started. */
async function signingKey(dataDir: string | undefined): Promise<KeyObject | undefined> {
  if (!dataDir) return undefined;
  const pem = await readFile(join(dataDir, 'pki', 'signing.key'), 'utf8').catch(() => undefined);
  return pem ? createPrivateKey(pem) : undefined;
}

export async function sha256File(path: string): Promise<Buffer> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest();
}

/** A single-quoted POSIX shell word. */
export function shQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}
