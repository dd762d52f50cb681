import { createPrivateKey, sign } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { agentSigningPayload } from '@tributary/shared';
import { deployDir, sha256File } from './install-routes.js';

/** One agent binary the master serves, as a desired state names it (DesiredAgent, without the URL). */
export interface AgentArtefact {
  sha256: string;
  /** The master's Ed25519 signature over agentSigningPayload(sha256), base64. */
  signature: string;
}

/**
 * Finds, hashes and signs the agent binary `<agentDir>/<version>/tributary-agent-linux-<arch>`
 * (the file GET /agent/<version>/linux-<arch> serves, install-routes.ts) for agent rollouts
 * (rollout-manager.ts). Null when the master has no such binary or no signing key: an update the
 * device cannot verify is never offered. Digests are cached by path, size and mtime.
 */
export class AgentArtefacts {
  private readonly cache = new Map<string, { mtimeMs: number; size: number; artefact: AgentArtefact }>();

  constructor(private readonly o: { agentDir?: string; dataDir?: string }) {}

  async get(version: string, arch: string): Promise<AgentArtefact | null> {
    const path = join(this.o.agentDir ?? join(deployDir, '..', 'dist'), ...(version === 'latest' ? [] : [version]), `tributary-agent-linux-${arch}`);
    const info = await stat(path).catch(() => undefined);
    if (!info?.isFile()) return null;
    const hit = this.cache.get(path);
    if (hit && hit.mtimeMs === info.mtimeMs && hit.size === info.size) return hit.artefact;
    const pem = this.o.dataDir ? await readFile(join(this.o.dataDir, 'pki', 'signing.key'), 'utf8').catch(() => undefined) : undefined;
    if (!pem) return null;
    const sha256 = (await sha256File(path)).toString('hex');
    const artefact = { sha256, signature: sign(null, agentSigningPayload(sha256), createPrivateKey(pem)).toString('base64') };
    this.cache.set(path, { mtimeMs: info.mtimeMs, size: info.size, artefact });
    return artefact;
  }
}
