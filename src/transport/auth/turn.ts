/**
 * One connection at a time: a holder, and the others waiting for it to finish. ProxyAuth uses two:
 * the discovery of what a proxy offers (one request goes out bare, the others wait for its 407),
 * and the trial of credentials not yet proven (one failed logon at a time toward an account's
 * lockout). Hand-written: a few lines, and the waiters must be woken without a timer left behind.
 */
export class Turn {
  private holder: object | undefined;
  private waiters: Array<() => void> = [];

  constructor(
    /** Longest wait for a holder that never reports back (a bug of ours): never hang on it. */
    private readonly maxWaitMs: number,
  ) {}

  /**
   * Waits while `needed()` holds and another holds the turn; then, if `needed()` still holds,
   * `who` takes it. Resolves true when `who` holds the turn.
   */
  async take(who: object, needed: () => boolean): Promise<boolean> {
    const deadline = Date.now() + this.maxWaitMs;
    while (needed() && this.holder !== undefined && this.holder !== who) {
      const left = deadline - Date.now();
      if (left <= 0) break;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    if (!needed()) return false;
    this.holder = who;
    return true;
  }

  holds(who: object): boolean {
    return this.holder === who;
  }

  /** `who` is done (or anyone, with `force`): the waiters look again. */
  release(who: object | undefined, force = false): void {
    if (!force && (who === undefined || this.holder !== who)) return;
    this.holder = undefined;
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }
}
