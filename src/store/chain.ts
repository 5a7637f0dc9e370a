import { join } from 'node:path';
import { SymsrvError } from '../errors.js';
import type { SymbolKey } from '../keys/key.js';
import { copyAtomically, ensureDir } from './atomic.js';
import type { LookupContext, Store, WritableStore } from './types.js';

export type ChainResult =
  | { status: 'found'; path: string; store: string; downloaded: boolean }
  | { status: 'missing' }
  | { status: 'error'; error: SymsrvError; store: string };

export interface ChainFailure {
  store: string;
  error: SymsrvError;
}

function isWritable(store: Store): store is WritableStore {
  return typeof (store as Partial<WritableStore>).folderFor === 'function';
}

/**
 * The stores of one `srv*` element (or a folder with its `cache*` stores), nearest first.
 * A lookup walks them in order; a file found further up is copied into every writable store in
 * front of it, so the next lookup ends at the first store (SymSrv: "downstream stores are
 * filled"). A store that cannot be read or written is skipped, with its error kept for the
 * report when nothing is found.
 */
export class StoreChain {
  /** Stores that failed a write this session: skipped as download targets from then on. */
  private readonly unwritable = new Set<Store>();

  constructor(
    readonly stores: readonly Store[],
    /** Where to put a download when no store in front can be written (a session temp folder). */
    private readonly fallbackDir: () => Promise<string>,
  ) {}

  async lookup(key: SymbolKey, ctx: Omit<LookupContext, 'into'> & { skipHttp?: boolean } = {}): Promise<ChainResult> {
    const failures: ChainFailure[] = [];
    for (let i = 0; i < this.stores.length; i++) {
      const store = this.stores[i]!;
      if (ctx.skipHttp && store.kind === 'http') continue;
      const downstream = this.stores.slice(0, i).filter((s): s is WritableStore => isWritable(s) && !this.unwritable.has(s));
      let into: string | undefined;
      let target: WritableStore | undefined;
      // Where a download or an expanded `.pd_` goes; for a local store, chosen only if one is found.
      const resolveTarget = async (): Promise<string> => {
        ({ into, target } = await this.downloadTarget(key, downstream));
        return into;
      };
      try {
        if (store.kind === 'http') await resolveTarget();
        const result = await store.lookup(key, { ...ctx, into, expandInto: resolveTarget });
        if (result.status === 'missing') continue;
        const path = await this.fill(key, result.path, downstream.filter((s) => s !== target));
        return { status: 'found', path: target ? result.path : path ?? result.path, store: store.location, downloaded: result.downloaded };
      } catch (err) {
        if (!(err instanceof SymsrvError)) throw err; // a bug of ours: never reported as a store problem
        if (err.code === 'E_ABORTED' || err.code === 'E_PROXY_AUTH_CANCELLED') throw err;
        failures.push({ store: store.location, error: err });
      }
    }
    const first = failures[0];
    return first ? { status: 'error', error: first.error, store: first.store } : { status: 'missing' };
  }

  /** The nearest downstream folder that can be created; a temp folder when none can. */
  private async downloadTarget(key: SymbolKey, downstream: WritableStore[]): Promise<{ into: string; target?: WritableStore }> {
    for (const store of downstream) {
      try {
        const folder = await store.folderFor(key);
        await ensureDir(folder);
        return { into: folder, target: store };
      } catch {
        this.unwritable.add(store);
      }
    }
    return { into: join(await this.fallbackDir(), key.name, key.id) };
  }

  /** Copies a found file into the stores in front; returns the nearest copy. Failures skip the store. */
  private async fill(key: SymbolKey, found: string, stores: WritableStore[]): Promise<string | undefined> {
    let nearest: string | undefined;
    for (const store of stores) {
      try {
        const copy = await copyAtomically(found, await store.folderFor(key), key.name);
        nearest ??= copy;
      } catch {
        this.unwritable.add(store);
      }
    }
    return nearest;
  }
}
