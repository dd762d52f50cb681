import { createHash, type KeyObject } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { agentSigningPayload, signPayload } from '@tributary/shared';

/** The repository's deploy/ directory: install.sh, the unit template, the start guard. */
export const deployDir = join(dirname(createRequire(import.meta.url).resolve('@tributary/cloud-core/package.json')), '..', 'deploy');

/** One agent binary the master serves, as a desired state names it (DesiredAgent, without the URL). */
export interface AgentArtefact {
  sha256: string;
  /** The master's Ed25519 signature over agentSigningPayload(sha256), base64. */
  signature: string;
}

/**
 * The agent binaries the master serves: `<agentDir>/<version>/tributary-agent-linux-<arch>`
 * (`latest`: directly under agentDir), their SHA-256 and the master's signature. The one owner of
 * both: GET /agent/… (install-routes.ts) and agent rollouts (rollout-manager.ts) ask here, so the
 * digest of a binary is computed once (cached by path, size and mtime) and signed with the key the
 * master's PKI loaded at start (pki-store.ts), never read again from disk.
 */
export class AgentArtefacts {
  private readonly cache = new Map<string, { mtimeMs: number; size: number; sha256: string; signature: string | null }>();
  readonly dir: string;

  constructor(private readonly o: { agentDir?: string; signingKey?: KeyObject }) {
    this.dir = o.agentDir ?? join(deployDir, '..', 'dist');
  }

  path(version: string, arch: string): string {
    return join(this.dir, ...(version === 'latest' ? [] : [version]), `tributary-agent-linux-${arch}`);
  }

  /** The binary's digest and signature (null without a signing key); null when there is no such binary. */
  async describe(version: string, arch: string): Promise<{ path: string; size: number; sha256: string; signature: string | null } | null> {
    const path = this.path(version, arch);
    const info = await stat(path).catch(() => undefined);
    if (!info?.isFile()) return null;
    let hit = this.cache.get(path);
    if (!hit || hit.mtimeMs !== info.mtimeMs || hit.size !== info.size) {
      const sha256 = (await sha256File(path)).toString('hex');
      const signature = this.o.signingKey ? signPayload(this.o.signingKey, agentSigningPayload(sha256)) : null;
      hit = { mtimeMs: info.mtimeMs, size: info.size, sha256, signature };
      this.cache.set(path, hit);
    }
    return { path, size: info.size, sha256: hit.sha256, signature: hit.signature };
  }

  /** What a rollout offers: null when the binary is missing or unsigned (a device could not verify it). */
  async get(version: string, arch: string): Promise<AgentArtefact | null> {
    const d = await this.describe(version, arch);
    return d?.signature ? { sha256: d.sha256, signature: d.signature } : null;
  }
}

export async function sha256File(path: string): Promise<Buffer> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest();
}
