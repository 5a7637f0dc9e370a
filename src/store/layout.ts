import type { SymbolKey } from '../keys/key.js';

/**
 * Where a key's file sits in each store layout: pure functions, no I/O (as symbolicator's
 * `paths.rs`). Components were checked when the key was built (keys/key.ts), so none of these
 * can produce `..` or a separator inside a component.
 */

/** Two-tier (SymStore's default): `name/ID/name`. */
export function twoTierPath(key: SymbolKey): string[] {
  return [key.name, key.id];
}

/** Three-tier (a store with `index2.txt`): `na/name/ID/name`, `na` the first two characters of the name. */
export function threeTierPath(key: SymbolKey): string[] {
  return [key.name.slice(0, 2), key.name, key.id];
}

/** The folder segments of a key in a store of either layout. */
export function keyFolder(key: SymbolKey, threeTier: boolean): string[] {
  return threeTier ? threeTierPath(key) : twoTierPath(key);
}

/**
 * The compressed variant SymSrv probes after the plain name: the last character becomes `_`
 * (`foo.pdb` → `foo.pd_`), the MAKECAB convention SymStore's `/compress` writes.
 */
export function compressedName(name: string): string {
  return name.slice(0, -1) + '_';
}

export const POINTER_FILE = 'file.ptr';
export const THREE_TIER_MARKER = 'index2.txt';

/** The URL of a file in an HTTP store, each component percent-encoded. */
export function storeUrl(base: string, segments: string[], fileName: string): string {
  const root = base.endsWith('/') ? base : base + '/';
  return root + [...segments, fileName].map(encodeURIComponent).join('/');
}
