import { extname, join } from 'node:path';
import { SymsrvError } from '../errors.js';
import type { SymbolKey } from '../keys/key.js';
import { isFile } from './local.js';
import type { LookupContext, LookupResult, Store } from './types.js';
import { checkContent } from './validate.js';

/**
 * A plain folder on the symbol path (not `srv*`): files sit by name, as a build leaves them.
 * DbgHelp also looks in `<dir>\<ext>\` and `<dir>\symbols\<ext>\` (the layout of old symbol
 * packages). Nothing in a folder's layout names a build, so each candidate is opened and checked
 * against the key; one that belongs to another build is passed over.
 */
export class FolderStore implements Store {
  readonly kind = 'local' as const;

  constructor(readonly location: string) {}

  async lookup(key: SymbolKey, ctx: LookupContext): Promise<LookupResult> {
    const ext = extname(key.name).slice(1).toLowerCase();
    const candidates = [join(this.location, key.name)];
    if (ext) candidates.push(join(this.location, ext, key.name), join(this.location, 'symbols', ext, key.name));
    for (const path of candidates) {
      if (!(await isFile(path))) {
        ctx.onProbe?.({ store: this.location, target: path, result: 'missing' });
        continue;
      }
      try {
        await checkContent(path, key);
      } catch (err) {
        if (err instanceof SymsrvError && (err.code === 'E_INVALID_CONTENT' || err.code === 'E_TRUNCATED')) {
          ctx.onProbe?.({ store: this.location, target: path, result: 'mismatch' });
          continue;
        }
        throw err;
      }
      ctx.onProbe?.({ store: this.location, target: path, result: 'found' });
      return { status: 'found', path, downloaded: false };
    }
    return { status: 'missing' };
  }
}
