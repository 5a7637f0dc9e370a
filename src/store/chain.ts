import { join } from 'node:path';
import { SymsrvError } from '../errors.js';
import type { SymbolKey } from '../keys/key.js';
import { copyAtomically, ensureDir, removeEmptyDirs } from './atomic.js';
import { storePath, twoTierPath } from './layout.js';
import { isFile } from './local.js';
import { checkContent } from './validate.js';
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
  /** Whether -v has been told that downloads go to the temp folder. */
  private fallbackSaid = false;

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
      const writable = (): WritableStore[] => this.stores.slice(0, i).filter((s): s is WritableStore => isWritable(s) && !this.unwritable.has(s));
      try {
        // A local store's compressed file (`name.pd_`) is expanded into the nearest writable store
        // in front (SymSrv never expands beside it): that folder is chosen only if one is found.
        let expandedTarget: WritableStore | undefined;
        const expandInto = async (): Promise<string> => {
          const t = await this.downloadTarget(key, writable());
          expandedTarget = t.target;
          return t.into;
        };
        const found =
          store.kind === 'http'
            ? await this.download(store, key, ctx, writable)
            : await store
                .lookup(key, { ...ctx, into: undefined, expandInto })
                .then((r) => (r.status === 'found' ? { status: 'found' as const, result: r, target: expandedTarget } : r));
        if (found.status === 'missing') continue;
        const { result, target } = found;
        const path = await this.fill(key, result.path, writable().filter((s) => s !== target));
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

  /**
   * Looks `key` up on an HTTP store, downloading into the nearest writable store in front. A
   * store that cannot take the file (disk full, permissions) is skipped from then on and the
   * download goes to the next one ("a store that cannot be written is skipped", README). Key
   * folders made for a key that turns out missing are taken back: a miss leaves nothing behind.
   */
  private async download(
    store: Store,
    key: SymbolKey,
    ctx: Omit<LookupContext, 'into'>,
    writable: () => WritableStore[],
  ): Promise<{ status: 'found'; result: { path: string; downloaded: boolean }; target: WritableStore | undefined } | { status: 'missing' }> {
    for (;;) {
      const { into, target, made } = await this.downloadTarget(key, writable());
      if (!target) {
        // No store in front can be written: the per-user temp folder (store/fallback.ts) holds
        // what earlier runs downloaded; a file there that is this key's is used as is.
        const kept = join(into, key.name);
        if (!this.fallbackSaid) {
          this.fallbackSaid = true;
          ctx.onProbe?.({ store: into, target: kept, result: 'no writable store on the path: downloads go to this temp folder (kept for later runs)' });
        }
        if (await isKeysFile(kept, key)) return { status: 'found', result: { path: kept, downloaded: false }, target };
      }
      try {
        const result = await store.lookup(key, { ...ctx, into });
        if (result.status === 'found') return { status: 'found', result, target };
        if (made) await removeEmptyDirs(into, made);
        return { status: 'missing' };
      } catch (err) {
        if (made) await removeEmptyDirs(into, made);
        if (target && isWriteFailure(err, into)) {
          this.unwritable.add(target);
          continue;
        }
        throw err;
      }
    }
  }

  /** The nearest downstream folder that can be created; a temp folder when none can. */
  private async downloadTarget(key: SymbolKey, downstream: WritableStore[]): Promise<{ into: string; target?: WritableStore; made?: string | undefined }> {
    for (const store of downstream) {
      try {
        const folder = await store.folderFor(key);
        const made = await ensureDir(folder);
        return { into: folder, target: store, made };
      } catch (err) {
        // A key with no place in this store's layout (E_BAD_KEY) says nothing about the store.
        if (!(err instanceof SymsrvError && err.code === 'E_BAD_KEY')) this.unwritable.add(store);
      }
    }
    return { into: storePath(await this.fallbackDir(), twoTierPath(key)) };
  }

  /** Copies a found file into the stores in front; returns the nearest copy. Failures skip the store. */
  private async fill(key: SymbolKey, found: string, stores: WritableStore[]): Promise<string | undefined> {
    let nearest: string | undefined;
    for (const store of stores) {
      try {
        const copy = await copyAtomically(found, await store.folderFor(key), key.name);
        nearest ??= copy;
      } catch (err) {
        if (!(err instanceof SymsrvError && err.code === 'E_BAD_KEY')) this.unwritable.add(store);
      }
    }
    return nearest;
  }
}

/** An error writing into `into` (ENOSPC, EACCES, EROFS...): the target store's fault, not the origin's. */
function isWriteFailure(err: unknown, into: string): boolean {
  return err instanceof SymsrvError && err.code === 'E_IO' && typeof err.subject === 'string' && err.subject.startsWith(into);
}

/** Whether `path` is a file that passes the content check for `key`. */
async function isKeysFile(path: string, key: SymbolKey): Promise<boolean> {
  try {
    if (!(await isFile(path))) return false;
    await checkContent(path, key);
    return true;
  } catch {
    return false;
  }
}
