/**
 * `p`, or the error `onTimeout()` returns once `ms` have passed, whichever comes first; the timer
 * is cleared as soon as `p` settles. `onTimeout` may also stop the work (destroy its socket): a
 * later settling of `p` is then ignored. Not unref'd: the caller is waiting for the answer.
 */
export function withTimeout<T>(p: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}
