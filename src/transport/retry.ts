import { setTimeout as sleep } from 'node:timers/promises';
import { SymsrvError } from '../errors.js';
import { isRetryable } from './errors.js';

/**
 * The longest Retry-After (429, 503) a retry waits. A server asking for longer is not retried:
 * a symbol lookup that waits minutes for one file is worse than an error now, and retrying
 * sooner than asked is what Retry-After exists to prevent.
 */
export const MAX_RETRY_AFTER_MS = 30_000;

export interface RetryPolicy {
  retries: number;
  backoff: number;
  maxBackoff: number;
}

/**
 * Runs `attempt` until it succeeds, fails with an error that retrying cannot fix, or runs out of
 * tries. The whole attempt is retried (request and body), so a connection dropped mid-body gets
 * a clean new download rather than a half file. Backoff doubles with full jitter, so parallel
 * downloads that failed together do not come back together.
 */
export async function withRetry<T>(
  attempt: (n: number) => Promise<T>,
  policy: RetryPolicy,
  signal?: AbortSignal,
  onRetry?: (err: unknown, n: number, delay: number) => void,
): Promise<T> {
  for (let n = 0; ; n++) {
    try {
      return await attempt(n);
    } catch (err) {
      if (n >= policy.retries || !isRetryable(err) || signal?.aborted) throw err;
      const asked = err instanceof SymsrvError ? err.retryAfter : undefined;
      if (asked !== undefined && asked > MAX_RETRY_AFTER_MS) throw err;
      const ceiling = Math.min(policy.maxBackoff, policy.backoff * 2 ** n);
      // The server's Retry-After when it gave one (honoured, up to the cap above); else backoff.
      const delay = asked ?? Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
      onRetry?.(err, n + 1, delay);
      await sleep(delay, undefined, signal ? { signal } : undefined);
    }
  }
}
