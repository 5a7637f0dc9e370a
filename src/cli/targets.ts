import { readdir } from 'node:fs/promises';
import { statTarget } from '../io/target.js';
import { join } from 'node:path';
import { SymsrvError } from '../errors.js';
import { computeKeys, type ComputedKey } from '../keys/compute.js';
import type { KeyKind } from '../keys/key.js';

export interface TargetKeys {
  keys: ComputedKey[];
  /** Files in folders that were passed over, with why (unknown formats are not listed). */
  skipped: { file: string; reason: string }[];
}

/**
 * Which keys `fetch` asks for per kind of input: a binary's symbol file (and with --images the
 * binary itself); a PDB's own key (to fill the cache or check it is on a server).
 */
function wanted(kind: KeyKind, images: boolean): boolean {
  switch (kind) {
    case 'pdbref':
    case 'pdb':
    case 'elf-debug':
    case 'macho-dsym':
      return true;
    case 'pe':
    case 'elf':
    case 'macho':
      return images;
  }
}


/**
 * Turns TARGET arguments into keys. A file named on the command line must be readable and of a
 * known format (else E_* → exit 2); inside folders, files of unknown format are passed over
 * silently and malformed ones are reported as skipped.
 */
export async function keysOfTargets(targets: string[], opts: WalkOptions): Promise<TargetKeys> {
  const result: TargetKeys = { keys: [], skipped: [] };
  for (const target of targets) {
    const st = await statTarget(target);
    if (st.isDirectory()) {
      await walk(target, opts, result);
    } else {
      result.keys.push(...(await computeKeys(target)).filter((k) => selected(k.kind, opts)));
    }
  }
  return result;
}

/** `select` picks the kinds to keep (add: the files' own keys); else fetch's rule, wanted(). */
export interface WalkOptions {
  recursive: boolean;
  images?: boolean;
  select?: (kind: KeyKind) => boolean;
}

function selected(kind: KeyKind, opts: WalkOptions): boolean {
  return opts.select ? opts.select(kind) : wanted(kind, opts.images === true);
}

async function walk(dir: string, opts: WalkOptions, result: TargetKeys): Promise<void> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (err) {
    result.skipped.push({ file: dir, reason: `cannot read folder: ${(err as NodeJS.ErrnoException).code ?? 'error'}` });
    return;
  }
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of entries) {
    const path = join(dir, e.name);
    if (e.isDirectory()) {
      if (opts.recursive) await walk(path, opts, result);
    } else if (e.isFile()) {
      try {
        const keys = await computeKeys(path);
        // A crash dump in a folder is not one of its binaries: its modules' symbols are fetched
        // when the dump is named (as `symchk /id DUMP`), not by walking a folder of images.
        if (keys.some((k) => k.module !== undefined)) {
          result.skipped.push({ file: path, reason: 'a crash dump: name it as a TARGET to fetch the symbols of its modules' });
          continue;
        }
        result.keys.push(...keys.filter((k) => selected(k.kind, opts)));
      } catch (err) {
        if (!(err instanceof SymsrvError)) throw err;
        if (err.code !== 'E_UNKNOWN_FORMAT') result.skipped.push({ file: path, reason: err.message });
      }
    }
  }
}
