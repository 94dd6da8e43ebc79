/**
 * Bounded concurrency for async work, used by the daemon (downloads, `hasSigned` checks) and exported from
 * `@triad/oracle` for scripts that do many chain or HTTP calls (the benchmark files thousands of claims with it).
 */

/**
 * Runs `fn` over `items` with at most `limit` calls in flight; the results come back in input order. The first
 * rejection rejects the whole call (calls already started still run to their end).
 */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let cursor = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (cursor < items.length) {
      const i = cursor++;
      out[i] = await fn(items[i], i);
    }
  });
  await Promise.all(workers);
  return out;
}

/** Runs the function it is given once a slot is free (see {@link createLimiter}). */
export type Limiter = <T>(fn: () => Promise<T>) => Promise<T>;

/** At most `limit` calls of the functions passed in run at once; the others wait in order. */
export function createLimiter(limit: number): Limiter {
  let active = 0;
  const waiting: (() => void)[] = [];
  return async <T>(fn: () => Promise<T>): Promise<T> => {
    if (active >= limit)
      await new Promise<void>((resolve) => waiting.push(resolve)); // the slot is handed over
    else active++;
    try {
      return await fn();
    } finally {
      const next = waiting.shift();
      if (next) next();
      else active--;
    }
  };
}
