import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Logger } from '@tributary/shared';
import type { AdminTokenRecord, MasterStore } from './master-store.js';

/** What `GET /tokens` shows of a token: never its secret nor its hash. */
export interface AdminTokenView {
  id: string;
  name: string;
  createdAt: number;
  lastUsedAt: number | null;
}

/** The id of the token given by TRIBUTARY_ADMIN_TOKEN / config `adminToken`: one slot, replaced when it changes. */
export const BOOTSTRAP_TOKEN_ID = 'bootstrap';
/** Last-use times are kept in memory and written at most this often per token: no disk write per request. */
const LAST_USED_SAVE_MS = 60_000;

/** `trb_` + 32 random bytes, base64url: the prefix makes a leaked token easy to recognise (secret scanners). */
export function newAdminToken(): string {
  return `trb_${randomBytes(32).toString('base64url')}`;
}

const sha256 = (text: string): Buffer => createHash('sha256').update(text, 'utf8').digest();

/**
 * The master's admin tokens, for the REST API and the dashboard (admin-auth.ts asks `verify` on
 * every request). Kept in the MasterStore as SHA-256 hashes only; the secret is returned once, by
 * `create` (and by `ensure` at the first start). Loaded into memory at start: verification never
 * touches the disk.
 */
export class AdminTokens {
  private readonly records = new Map<string, AdminTokenRecord & { hash: Buffer; savedUse: number }>();

  constructor(private readonly store: MasterStore, private readonly log: Logger, private readonly now: () => number = Date.now) {}

  /**
   * Called once by the master at start: loads the tokens; stores `bootstrap` (config `adminToken`)
   * hashed under the id `bootstrap`; when no token exists at all, creates one and returns its
   * secret so the caller prints it, once.
   */
  async start(bootstrap?: string): Promise<{ created?: { id: string; token: string } }> {
    for (const r of await this.store.listAdminTokens()) this.remember(r);
    if (bootstrap) {
      const digest = sha256(bootstrap).toString('hex');
      if (this.records.get(BOOTSTRAP_TOKEN_ID)?.sha256 !== digest) {
        await this.save({ id: BOOTSTRAP_TOKEN_ID, name: 'bootstrap (TRIBUTARY_ADMIN_TOKEN)', sha256: digest, createdAt: this.now(), lastUsedAt: null });
        this.log.info({ id: BOOTSTRAP_TOKEN_ID }, 'bootstrap admin token stored');
      }
    }
    if (this.records.size > 0) return {};
    const created = await this.create('initial');
    return { created: { id: created.id, token: created.token } };
  }

  /** A new token; its secret is in the answer and nowhere else. */
  async create(name: string): Promise<AdminTokenView & { token: string }> {
    const token = newAdminToken();
    const id = randomBytes(6).toString('hex');
    const record: AdminTokenRecord = { id, name, sha256: sha256(token).toString('hex'), createdAt: this.now(), lastUsedAt: null };
    await this.save(record);
    this.log.info({ id, name }, 'admin token added');
    return { ...view(record), token };
  }

  list(): AdminTokenView[] {
    return [...this.records.values()].map(view).sort((a, b) => a.createdAt - b.createdAt);
  }

  /** false: no such token. Refuses to remove the last one (nobody could log in any more): 'last'. */
  async revoke(id: string): Promise<boolean | 'last'> {
    if (!this.records.has(id)) return false;
    if (this.records.size === 1) return 'last';
    this.records.delete(id);
    await this.store.deleteAdminToken(id);
    this.log.info({ id }, 'admin token revoked');
    return true;
  }

  /** Whether a token with this id still exists (sessions end with their token). */
  has(id: string): boolean {
    return this.records.has(id);
  }

  /**
   * The token `presented` is, or null. Compares its hash with every stored hash in constant time
   * (never stopping at the first match), so response timing says nothing about the secrets.
   */
  verify(presented: string): AdminTokenView | null {
    const digest = sha256(presented);
    let found: (AdminTokenRecord & { hash: Buffer; savedUse: number }) | null = null;
    for (const r of this.records.values()) if (timingSafeEqual(r.hash, digest) && !found) found = r;
    if (!found) return null;
    const at = this.now();
    found.lastUsedAt = at;
    if (at - found.savedUse >= LAST_USED_SAVE_MS) {
      found.savedUse = at;
      const { hash: _h, savedUse: _s, ...record } = found;
      this.store.putAdminToken(record).catch((err: Error) => this.log.warn({ err, id: record.id }, 'could not save an admin token\'s last use'));
    }
    return view(found);
  }

  private async save(r: AdminTokenRecord): Promise<void> {
    await this.store.putAdminToken(r);
    this.remember(r);
  }

  private remember(r: AdminTokenRecord): void {
    this.records.set(r.id, { ...r, hash: Buffer.from(r.sha256, 'hex'), savedUse: r.lastUsedAt ?? 0 });
  }
}

function view(r: AdminTokenRecord): AdminTokenView {
  return { id: r.id, name: r.name, createdAt: r.createdAt, lastUsedAt: r.lastUsedAt };
}
