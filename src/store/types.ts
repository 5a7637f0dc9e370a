import type { SymbolKey } from '../keys/key.js';

/** One probe a lookup made: what `!sym noisy` and `fetch --verbose` print. Never holds a credential. */
export interface ProbeEvent {
  store: string;
  /** The file path or URL probed (URLs without userinfo). */
  target: string;
  /** found, missing, an HTTP status, or an error code. */
  result: string;
  /** For HTTP probes: `direct`, or the proxy (without credentials) and why it was chosen. */
  via?: string;
}

export interface LookupContext {
  /**
   * The folder a downloaded file should land in (the nearest writable downstream store's folder
   * for the key), or undefined when the store itself is the nearest (nothing to fill).
   */
  into: string | undefined;
  /**
   * The folder a local store's compressed file (`name.pd_`) is expanded into: the nearest writable
   * downstream store's folder, or a session temp folder. Asked only when such a file is found.
   */
  expandInto?: (() => Promise<string>) | undefined;
  signal?: AbortSignal | undefined;
  onBytes?: ((n: number) => void) | undefined;
  onProbe?: ((e: ProbeEvent) => void) | undefined;
  /** Messages a store wants shown to the user (`file.ptr` `MSG:` lines). */
  onMessage?: ((text: string) => void) | undefined;
  /** The most one download may write (store/bound.ts's DEFAULT_MAX_SIZE when absent). */
  maxSize?: number | undefined;
}

export type LookupResult =
  | { status: 'found'; path: string; downloaded: boolean }
  | { status: 'missing' };

export interface Store {
  readonly kind: 'local' | 'http';
  /** The folder or URL (without userinfo), as shown to users. */
  readonly location: string;
  /** Looks the key up; an HTTP store downloads into `ctx.into`. Throws SymsrvError on failure. */
  lookup(key: SymbolKey, ctx: LookupContext): Promise<LookupResult>;
}

/** A store that can hold files: the chain fills it with files found further up. */
export interface WritableStore extends Store {
  readonly kind: 'local';
  /** The folder that holds `key`'s file in this store. */
  folderFor(key: SymbolKey): Promise<string>;
}
