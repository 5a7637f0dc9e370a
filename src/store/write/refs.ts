import { access, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ioError } from '../atomic.js';
import { THREE_TIER_MARKER } from '../layout.js';

/**
 * `refs.ptr`, SymStore's record of every transaction that put something in one key folder
 * ("Symbol Storage Format" in the Debugging Tools docs; the field layout as symstore.exe writes
 * it, seen in the stores the symstore Python package keeps as test data):
 *
 *   0000000002,file,"C:\src\dummylib.pdb",pub,,N,,
 *   0000000046,ptr,"\\MyDir\bin\dbghelp.dbg",bin,,N,,
 *
 * id, `file` (a copy) or `ptr` (a file.ptr), the source path in quotes, what the file is (`bin` an
 * image, `pri` a PDB with private symbols, `pub` a stripped one), an empty field, `Y` when stored
 * compressed, then two empty fields. Readers only rely on the first three; older stores have the
 * path without quotes and no further fields, which we read too. Lines are CRLF-separated with no
 * line end after the last, as symstore.exe leaves them.
 *
 * The rule SymStore keeps after a `del` (the same docs): when the folder's last remaining entry is
 * a pointer, file.ptr names it; when it is a file, there is no file.ptr; with no entry left the
 * folder goes. A stored file stays while any remaining entry stored it (in that form).
 */

export type RefKind = 'file' | 'ptr';
export type FileType = 'bin' | 'pri' | 'pub';

export interface RefEntry {
  id: string;
  ref: RefKind;
  source: string;
  type: string;
  compressed: boolean;
}

export function parseRefs(text: string): RefEntry[] {
  const out: RefEntry[] = [];
  for (const line of text.split(/\r?\n/)) {
    if (line.trim() === '') continue;
    const m = /^(\d{10}),(file|ptr),(?:"([^"]*)"|([^,]*))(?:,([^,]*),[^,]*,([YN])?)?/.exec(line);
    if (!m) continue; // not ours to judge: an unknown line is kept out of decisions, never fatal
    out.push({ id: m[1]!, ref: m[2] as RefKind, source: m[3] ?? m[4] ?? '', type: m[5] ?? '', compressed: m[6] === 'Y' });
  }
  return out;
}

export function formatRefs(entries: RefEntry[]): string {
  return entries.map((e) => `${e.id},${e.ref},"${e.source}",${e.type},,${e.compressed ? 'Y' : 'N'},,`).join('\r\n');
}

/**
 * What a key folder should hold after its refs changed: the plain file while an entry stored it
 * uncompressed, `name.xx_` while one stored it compressed, and file.ptr's target.
 */
export function folderState(entries: RefEntry[]): { keepPlain: boolean; keepCompressed: boolean; pointer: string | undefined } {
  const last = entries.at(-1);
  return {
    keepPlain: entries.some((e) => e.ref === 'file' && !e.compressed),
    keepCompressed: entries.some((e) => e.ref === 'file' && e.compressed),
    pointer: last?.ref === 'ptr' ? last.source : undefined,
  };
}

/** A text file of the store, '' when it does not exist (a key folder's first refs.ptr). */
export async function readText(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw ioError(`cannot read ${path}`, err, path);
  }
}

/** Whether the store is three-tier: its root holds `index2.txt` (SymStore /3). */
export async function isThreeTier(store: string): Promise<boolean> {
  try {
    await access(join(store, THREE_TIER_MARKER));
    return true;
  } catch {
    return false;
  }
}
