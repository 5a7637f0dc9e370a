import type { SymbolKey } from '../keys/key.js';
import { HttpStore } from './http.js';
import type { LookupContext, LookupResult } from './types.js';

/**
 * A debuginfod server (elfutils' `debuginfod`, the servers DEBUGINFOD_URLS names) as a store:
 * an ELF key is asked for at `/buildid/HEX/executable` (`name/elf-buildid-HEX/name`) or
 * `/buildid/HEX/debuginfo` (`_.debug/elf-buildid-sym-HEX/_.debug`), the webapi of
 * debuginfod(8); other keys are not there (no request is made). One URL per key: no `.pd_`,
 * no file.ptr, no index2.txt. Downloads are checked against the build-id and cached as from any
 * HTTP store.
 */
export class DebuginfodStore extends HttpStore {
  override async lookup(key: SymbolKey, ctx: LookupContext): Promise<LookupResult> {
    const m = /^elf-buildid-(sym-)?([0-9a-f]+)$/i.exec(key.id);
    if (!m) return { status: 'missing' };
    const artifact = m[1] ? 'debuginfo' : 'executable';
    for (const id of buildIdCandidates(m[2]!.toLowerCase())) {
      const url = `${this.base.replace(/\/+$/, '')}/buildid/${id}/${artifact}`;
      if (await this.download(url, key, ctx, false)) return { status: 'found', path: this.placed(ctx, key), downloaded: true };
    }
    return { status: 'missing' };
  }
}

/**
 * The build-ids a key may stand for. SSQP keys pad a build-id shorter than 20 bytes with zero
 * bytes (docs/keys.md), and debuginfod wants the real one: a 20-byte id ending in zeros may be a
 * padded 16-byte (MD5, UUID) or 8-byte (lld's --build-id=fast) one, so those are asked for next.
 */
export function buildIdCandidates(hex: string): string[] {
  const out = [hex];
  if (hex.length === 40) {
    for (const bytes of [16, 8]) if (hex.slice(bytes * 2) === '0'.repeat(40 - bytes * 2)) out.push(hex.slice(0, bytes * 2));
  }
  return out;
}
