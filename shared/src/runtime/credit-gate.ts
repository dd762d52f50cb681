/**
 * The waiting half of credit-based flow control, shared by every channel: a sender that has no
 * credit gets one promise (the same for every caller) that resolves when credit comes back.
 */
export class CreditGate {
  private waiter: { promise: Promise<void>; resolve: () => void } | null = null;

  /** null while `credits > 0`; otherwise the promise of the next open(). */
  whenOpen(credits: number): Promise<void> | null {
    if (credits > 0) return null;
    if (!this.waiter) {
      let resolve!: () => void;
      const promise = new Promise<void>((r) => (resolve = r));
      this.waiter = { promise, resolve };
    }
    return this.waiter.promise;
  }

  /** Credit came back: wake whoever waits, if there is credit now. */
  open(credits: number): void {
    if (this.waiter && credits > 0) {
      const { resolve } = this.waiter;
      this.waiter = null;
      resolve();
    }
  }
}
