import type { SymbolKey } from '../keys/key.js';
import type { FindResult } from '../client.js';

/** Where `symsrv serve` finds files: a SymbolClient (its chain: cache, then upstream). */
export interface SymbolSource {
  find(key: SymbolKey): Promise<FindResult>;
}

export type Outcome =
  /** `hit`: the file was in a local store; `upstream`: it was downloaded for this request. */
  | { result: 'hit' | 'upstream'; path: string }
  /** Not anywhere on the path; `negative` when the answer came from the negative cache. */
  | { result: 'miss' | 'negative' }
  /** An upstream or store failure: never cached, the next request asks again. */
  | { result: 'error'; message: string };

/**
 * Lookups for the server: one upstream request per key at a time (requests for a key already
 * being looked up wait for that lookup: coalescing), and a negative cache of misses with a TTL
 * (SymProxy's default, 1 h), so a debugger's burst of probes for a missing PDB costs one upstream
 * request. Failures (proxy, network, a bad answer) are never cached: they are 502s and the next
 * request tries again. Misses are typed entries with an expiry, as symbolicator caches them.
 */
export class Lookups {
  private readonly inFlight = new Map<string, Promise<Outcome>>();
  private readonly negative = new Map<string, number>();
  /**
   * Where keys were found: a hit is then served without walking the chain (one listing per store
   * per request otherwise). A path that is gone (a cache cleared under us) is forgotten by the
   * server (`forget`) and looked up again. Bounded like the negative cache.
   */
  private readonly found = new Map<string, string>();

  constructor(
    private readonly source: SymbolSource,
    private readonly negativeTtlMs: number,
    /** Bound on remembered misses: the oldest go first (a scan of random keys cannot grow memory). */
    private readonly maxNegative = 100_000,
    private readonly now: () => number = Date.now,
  ) {}

  find(key: SymbolKey): Promise<Outcome> {
    const id = key.index.toLowerCase(); // SymSrv and SSQP keys are case-insensitive
    const until = this.negative.get(id);
    if (until !== undefined) {
      if (until > this.now()) return Promise.resolve({ result: 'negative' });
      this.negative.delete(id);
    }
    const known = this.found.get(id);
    if (known !== undefined) return Promise.resolve({ result: 'hit', path: known });
    let pending = this.inFlight.get(id);
    if (!pending) {
      pending = this.lookup(id, key).finally(() => this.inFlight.delete(id));
      this.inFlight.set(id, pending);
    }
    return pending;
  }

  private async lookup(id: string, key: SymbolKey): Promise<Outcome> {
    const r = await this.source.find(key);
    if (r.status === 'found') {
      if (this.found.size >= this.maxNegative) this.found.delete(this.found.keys().next().value!);
      this.found.set(id, r.path);
      return { result: r.downloaded ? 'upstream' : 'hit', path: r.path };
    }
    if (r.status === 'missing') {
      if (this.negativeTtlMs > 0) {
        if (this.negative.size >= this.maxNegative) this.negative.delete(this.negative.keys().next().value!);
        this.negative.set(id, this.now() + this.negativeTtlMs);
      }
      return { result: 'miss' };
    }
    return { result: 'error', message: r.error.message };
  }

  /** The file of a remembered hit is gone: the next request looks the key up again. */
  forget(key: SymbolKey): void {
    this.found.delete(key.index.toLowerCase());
  }

  get pending(): number {
    return this.inFlight.size;
  }
}
