/** `fn` over `items`, at most `limit` running at once; one promise per item, in order. */
export function limited<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R>[] {
  let active = 0;
  const waiting: (() => void)[] = [];
  const acquire = (): Promise<void> => {
    if (active < limit) {
      active++;
      return Promise.resolve();
    }
    return new Promise((resolve) => waiting.push(resolve));
  };
  const release = (): void => {
    const next = waiting.shift();
    if (next) next();
    else active--;
  };
  const all = items.map(async (item) => {
    await acquire();
    try {
      return await fn(item);
    } finally {
      release();
    }
  });
  // The caller awaits them in order and stops at the first failure (a bug): the later ones must
  // not become unhandled rejections meanwhile.
  for (const p of all) p.catch(() => {});
  return all;
}
