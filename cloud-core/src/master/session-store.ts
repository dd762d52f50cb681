import { randomBytes } from 'node:crypto';

export const SESSION_COOKIE = 'tributary_session';
/** A dashboard login lasts a working day; then the login form again. */
const SESSION_TTL_MS = 12 * 3600_000;
/** Logins in a loop must not grow the map without bound: past this, the oldest sessions go. */
const MAX_SESSIONS = 10_000;

interface Session {
  tokenId: string;
  expiresAt: number;
}

/**
 * Dashboard sessions, in the master's memory only (a master restart logs everyone out): a random
 * id in an HttpOnly, SameSite=Strict cookie maps to the admin token that logged in. A session ends
 * at its expiry, at logout, or when its token is revoked (`tokenAlive`).
 */
export class SessionStore {
  private readonly sessions = new Map<string, Session>();

  constructor(private readonly tokenAlive: (tokenId: string) => boolean, private readonly now: () => number = Date.now, private readonly ttlMs = SESSION_TTL_MS) {}

  /** Called by `POST /login` once the token checked out. */
  create(tokenId: string): string {
    const at = this.now();
    for (const [id, s] of this.sessions) if (s.expiresAt <= at) this.sessions.delete(id);
    while (this.sessions.size >= MAX_SESSIONS) this.sessions.delete(this.sessions.keys().next().value!);
    const id = randomBytes(32).toString('base64url');
    this.sessions.set(id, { tokenId, expiresAt: at + this.ttlMs });
    return id;
  }

  /** The session's token id, or undefined (unknown, expired, or its token revoked). */
  get(id: string): string | undefined {
    const s = this.sessions.get(id);
    if (!s) return undefined;
    if (s.expiresAt <= this.now() || !this.tokenAlive(s.tokenId)) {
      this.sessions.delete(id);
      return undefined;
    }
    return s.tokenId;
  }

  delete(id: string): void {
    this.sessions.delete(id);
  }

  get size(): number {
    return this.sessions.size;
  }

  cookie(id: string, secure: boolean): string {
    return `${SESSION_COOKIE}=${id}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${Math.floor(this.ttlMs / 1000)}${secure ? '; Secure' : ''}`;
  }

  clearCookie(): string {
    return `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0`;
  }
}
