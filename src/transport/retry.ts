import { setTimeout as sleep } from 'node:timers/promises';
import { isRetryable } from './errors.js';

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
      const ceiling = Math.min(policy.maxBackoff, policy.backoff * 2 ** n);
      const delay = Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
      onRetry?.(err, n + 1, delay);
      await sleep(delay, undefined, signal ? { signal } : undefined);
    }
  }
}
