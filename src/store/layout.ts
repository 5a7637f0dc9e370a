import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { SymsrvError } from '../errors.js';
import { escapeControls } from '../escape.js';
import type { SymbolKey } from '../keys/key.js';

/**
 * Where a key's file sits in each store layout: pure functions, no I/O (as symbolicator's
 * `paths.rs`). Key components were checked when the key was built (keys/key.ts), but a layout
 * derives new components from them (the three-tier prefix), so every path and URL built here is
 * checked once more, at the end, by `storePath` / `storeUrl`: the one place that guarantees a
 * store never reads or writes outside its root (CWE-22).
 */

/** Two-tier (SymStore's default): `name/ID/name`. */
export function twoTierPath(key: SymbolKey): string[] {
  return [key.name, key.id];
}

/**
 * The folder a three-tier store (one with `index2.txt`) puts a name under: "the first 2 letters
 * of the filename" (Microsoft, "Symbol Store Folder Tree"). SymSrv and SymStore create it with
 * the Win32 file API, whose path normalization drops trailing dots and spaces from a component
 * ("Naming Files, Paths, and Namespaces"), so `a.dll` lands in `a\`, never in `a.\` (a folder
 * Windows cannot even create). We produce the folder Windows produces. A prefix that is empty
 * after that (`..evil.pdb`, `. x.pdb`) names no folder: the key has no place in a three-tier store.
 * See docs/store-layout.md.
 */
export function threeTierPrefix(name: string): string {
  return [...name].slice(0, 2).join('').replace(/[. ]+$/, '');
}

/** Three-tier: `na/name/ID/name`, `na` as `threeTierPrefix` says. */
export function threeTierPath(key: SymbolKey): string[] {
  return [threeTierPrefix(key.name), key.name, key.id];
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

/**
 * Rejects a path component built from file or server input that could address anything but one
 * entry of one folder: empty, `.`/`..`, a separator, a drive colon, NUL or another control.
 */
function checkSegment(segment: string, where: string): void {
  if (segment === '' || segment === '.' || segment === '..' || /[\/\\:\u0000-\u001f\u007f]/.test(segment)) {
    throw new SymsrvError('E_BAD_KEY', `"${escapeControls(segment)}" cannot be a folder or file name in ${escapeControls(where)}`, { subject: where });
  }
}

/** The path of `segments` under the store folder `root`; throws E_BAD_KEY if it would leave it. */
export function storePath(root: string, segments: readonly string[]): string {
  for (const s of segments) checkSegment(s, root);
  const path = join(root, ...segments);
  const rel = relative(resolve(root), resolve(path));
  if (rel === '' || rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel)) {
    throw new SymsrvError('E_BAD_KEY', `${escapeControls(path)} is outside the store ${escapeControls(root)}`, { subject: root });
  }
  return path;
}

/** The URL of a file in an HTTP store, each component percent-encoded; never outside the base path. */
export function storeUrl(base: string, segments: readonly string[], fileName: string): string {
  const root = base.endsWith('/') ? base : base + '/';
  const all = [...segments, fileName];
  for (const s of all) checkSegment(s, root);
  const url = root + all.map(encodeURIComponent).join('/');
  // A URL parser resolves `.`/`..` (also as %2e) segments; the checks above leave none, and this
  // proves it for the URL as a server will read it.
  const parsed = new URL(url);
  const rootPath = new URL(root).pathname;
  if (!parsed.pathname.startsWith(rootPath) || parsed.pathname.length === rootPath.length) {
    throw new SymsrvError('E_BAD_KEY', `a key would leave the store ${root}`, { subject: root });
  }
  return url;
}
