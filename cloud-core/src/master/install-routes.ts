import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Logger } from '@tributary/shared';
import type { DeviceTraffic } from './device-traffic.js';
import { deployDir, type AgentArtefacts } from './agent-artefacts.js';

export interface InstallRoutesOptions {
  /** The agent binaries, their digests and the master's signatures (agent-artefacts.ts). */
  artefacts: AgentArtefacts;
  /** The URL written into the served install.sh; default: the scheme and Host the device used. */
  publicUrl?: string;
  /** Counts the bytes of a binary sent to the device its URL names (`?node=`, fleet rollouts). */
  traffic?: DeviceTraffic;
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
  app.get('/install.sh', async (req, reply) => {
    const [script, unit, guard] = await Promise.all(['install.sh', 'tributary-agent.service', 'agent-guard.sh'].map((f) => readFile(join(deployDir, f), 'utf8')));
    const master = (opts.publicUrl ?? `${req.protocol}://${req.headers.host ?? req.hostname}`).replace(/\/+$/, '');
    const body = script!
      .replace(/^EMBEDDED_MASTER=''$/m, () => `EMBEDDED_MASTER=${shQuote(master)}`)
      .replace(/^EMBEDDED_UNIT=''$/m, () => `EMBEDDED_UNIT=${shQuote(unit!.trimEnd())}`)
      .replace(/^EMBEDDED_GUARD=''$/m, () => `EMBEDDED_GUARD=${shQuote(guard!.trimEnd())}`);
    return reply.type('text/x-shellscript; charset=utf-8').header('cache-control', 'no-store').send(body);
  });

  app.get<{ Params: { version: string; file: string }; Querystring: { node?: string } }>('/agent/:version/:file', async (req, reply) => {
    const { version, file } = req.params;
    const m = ARCH_FILE.exec(file);
    if (!m || !VERSION.test(version)) return reply.code(404).send({ error: `no agent file ${version}/${file} (expected <version>/linux-x64|linux-arm64[.sha256|.sig])` });
    const d = await opts.artefacts.describe(version, m[1]!);
    if (!d) return reply.code(404).send({ error: `no agent binary ${version} for linux-${m[1]} on this master` });
    if (!m[2]) {
      opts.traffic?.add(req.query.node, d.size);
      return reply.type('application/octet-stream').header('content-length', d.size).send(createReadStream(d.path));
    }
    if (m[2] === '.sha256') return reply.type('text/plain').send(`${d.sha256}  tributary-agent-linux-${m[1]}\n`);
    if (!d.signature) return reply.code(404).send({ error: 'this master has no signing key: binaries are served unsigned' });
    return reply.type('application/octet-stream').send(Buffer.from(d.signature, 'base64'));
  });
}

/** A single-quoted POSIX shell word. */
export function shQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}
