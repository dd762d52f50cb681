import { ErrorCodes } from '../api/errors.js';
import type { Logger } from '../log/log.js';
import { renew } from './enrol-client.js';
import type { NodeIdentity } from './identity-store.js';

/** The time the renewer reads and waits on; runtime/wall-clock.ts's Clock (and tests' FakeClock) fit it. */
export interface IdentityClock {
  now(): number;
  setTimeout(fn: () => void, ms: number): { cancel(): void };
}

const realClock: IdentityClock = {
  now: () => Date.now(),
  setTimeout(fn, ms) {
    const t = setTimeout(fn, ms);
    t.unref();
    return { cancel: () => clearTimeout(t) };
  },
};

export interface IdentityRenewerOptions {
  identity: NodeIdentity;
  dataDir: string;
  log: Logger;
  clock?: IdentityClock;
  /** After each renewal (the new identity is on disk): the node uses it for its next connection. */
  onRenewed?: (identity: NodeIdentity) => void;
  /** First retry after a failed renewal, ms; doubles per failure up to maxRetryMs. Default 10 s. */
  retryMs?: number;
  /** Default 15 min. */
  maxRetryMs?: number;
}

/** Timers longer than this are re-armed in steps (setTimeout's limit is ~24.8 days). */
const MAX_STEP_MS = 24 * 3600 * 1000;

/**
 * Renews a node's certificate before it expires: at 2/3 of its lifetime (security-spec.md), by
 * `renew` (POST /enrol/renew). A failed renewal is logged and retried with exponential back-off;
 * an expired certificate is reported as TRIB_ERR_CERT_EXPIRED, once, and no longer renewed (the
 * master refuses renewals of expired certificates: the node must enrol again). Started by the
 * node's composition roots (edge-agent/src/main.ts, cloud-core/src/worker/main.ts) through
 * `resolveNodeConnection`.
 */
export class IdentityRenewer {
  #identity: NodeIdentity;
  #timer: { cancel(): void } | null = null;
  #failures = 0;
  #stopped = false;
  readonly #clock: IdentityClock;

  constructor(private readonly o: IdentityRenewerOptions) {
    this.#identity = o.identity;
    this.#clock = o.clock ?? realClock;
  }

  get identity(): NodeIdentity {
    return this.#identity;
  }

  /** When the current certificate is due for renewal (epoch ms). */
  get renewAt(): number {
    const { certNotBefore: from, certNotAfter: to } = this.#identity;
    return from + Math.floor(((to - from) * 2) / 3);
  }

  start(): this {
    this.#stopped = false;
    this.#schedule(this.renewAt);
    return this;
  }

  stop(): void {
    this.#stopped = true;
    this.#timer?.cancel();
    this.#timer = null;
  }

  #schedule(at: number): void {
    this.#timer?.cancel();
    if (this.#stopped) return;
    const wait = Math.max(0, at - this.#clock.now());
    this.#timer = this.#clock.setTimeout(() => {
      if (this.#clock.now() < at) this.#schedule(at);
      else void this.#attempt();
    }, Math.min(wait, MAX_STEP_MS));
  }

  async #attempt(): Promise<void> {
    if (this.#stopped) return;
    const { log } = this.o;
    const id = this.#identity;
    if (this.#clock.now() >= id.certNotAfter) {
      log.error(
        { event: 'certificate-expired', code: ErrorCodes.CERT_EXPIRED, id: id.id, certNotAfter: new Date(id.certNotAfter).toISOString() },
        `the certificate of ${id.id} expired: it can no longer be renewed; enrol this node again (tributary devices add ${id.id}, then --token)`,
      );
      return;
    }
    try {
      const next = await renew(id, this.o.dataDir, log);
      if (this.#stopped) return;
      this.#identity = next;
      this.#failures = 0;
      this.o.onRenewed?.(next);
      this.#schedule(this.renewAt);
    } catch (err) {
      if (this.#stopped) return;
      this.#failures++;
      const base = this.o.retryMs ?? 10_000;
      const retryMs = Math.min(base * 2 ** (this.#failures - 1), this.o.maxRetryMs ?? 15 * 60_000);
      // Never past the expiry: the last attempt happens while the certificate is still valid.
      const at = Math.min(this.#clock.now() + retryMs, id.certNotAfter - 1);
      log.warn(
        { event: 'certificate-renewal-failed', err: (err as Error).message, code: (err as { code?: string }).code, attempt: this.#failures, retryInMs: at - this.#clock.now(), certNotAfter: new Date(id.certNotAfter).toISOString() },
        'certificate renewal failed: retrying',
      );
      this.#schedule(at > this.#clock.now() ? at : id.certNotAfter);
    }
  }
}
