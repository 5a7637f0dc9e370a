import { createReadStream, type Dirent } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { SymsrvError } from '../errors.js';
import type { SymbolKey } from '../keys/key.js';
import { ioError } from './atomic.js';
import { expandInto } from './expand.js';
import { POINTER_FILE, THREE_TIER_MARKER, compressedName, keyFolder, storePath } from './layout.js';
import { isUrl, parsePointer, POINTER_LIMIT } from './pointer.js';
import type { LookupContext, LookupResult, WritableStore } from './types.js';
import { checkContent } from './validate.js';

/** Read size for a compressed store file: large reads, few thread-pool round trips. */
const READ_CHUNK = 1024 * 1024;

/**
 * A symbol store in a folder or on a file share (`srv*C:\sym`, `srv*\\server\symbols`).
 * Probes in SymSrv's order: the file, its compressed `.pd_` form, then `file.ptr`.
 */
export class LocalStore implements WritableStore {
  readonly kind = 'local' as const;
  private layout: Promise<boolean> | undefined;

  constructor(readonly location: string) {}

  /** A store is three-tier when its root holds `index2.txt` (SymStore /3). Checked once per session. */
  private threeTier(): Promise<boolean> {
    this.layout ??= exists(join(this.location, THREE_TIER_MARKER));
    return this.layout;
  }

  async folderFor(key: SymbolKey): Promise<string> {
    return storePath(this.location, keyFolder(key, await this.threeTier()));
  }

  async lookup(key: SymbolKey, ctx: LookupContext): Promise<LookupResult> {
    const segments = keyFolder(key, await this.threeTier());
    const folder = storePath(this.location, segments);
    const file = storePath(this.location, [...segments, key.name]);
    const probe = (target: string, result: string): void => ctx.onProbe?.({ store: this.location, target, result });
    // One listing answers all three probes (a miss in a cache is the common case: one call, not three).
    const names = await listFolder(folder);

    if (await isFileEntry(names.get(key.name), file)) {
      probe(file, 'found');
      return { status: 'found', path: file, downloaded: false };
    }
    probe(file, 'missing');

    const packed = join(folder, compressedName(key.name));
    if (await isFileEntry(names.get(compressedName(key.name)), packed)) {
      probe(packed, 'found');
      // SymSrv expands a compressed file into the downstream store (or a temp folder), never beside it.
      const into = await ctx.expandInto?.();
      if (!into) throw new SymsrvError('E_IO', `no writable store to expand ${packed} into`, { subject: packed });
      const path = await expandInto(createReadStream(packed, { highWaterMark: READ_CHUNK }), into, {
        key,
        origin: packed,
        sourceError: (err) => ioError(`cannot read ${packed}`, err, packed),
      });
      return { status: 'found', path, downloaded: true };
    }

    const ptrPath = join(folder, POINTER_FILE);
    const ptr = names.has(POINTER_FILE) ? await readSmall(ptrPath) : undefined;
    if (ptr === undefined) return { status: 'missing' };
    probe(ptrPath, 'found');
    const pointer = parsePointer(ptr);
    if (pointer.type === 'message') {
      ctx.onMessage?.(`${this.location}: ${pointer.text}`);
      return { status: 'missing' };
    }
    if (pointer.type === 'invalid') {
      throw new SymsrvError('E_BAD_POINTER', `${ptrPath}: not a PATH: or MSG: line ("${pointer.text}")`, { subject: ptrPath });
    }
    if (isUrl(pointer.target)) {
      throw new SymsrvError('E_BAD_POINTER', `${ptrPath} points at a URL; a local store's file.ptr must name a file path`, { subject: ptrPath });
    }
    // A relative PATH is relative to the store, never to the directory symsrv was started in (SymStore
    // writes absolute paths; a store copied elsewhere with relative ones must still work from anywhere).
    const target = resolve(this.location, pointer.target);
    if (!(await isFile(target))) {
      probe(target, 'missing');
      return { status: 'missing' };
    }
    // A pointer names a file outside the store's structure: check it really is this key's file.
    await checkContent(target, key);
    probe(target, 'found');
    return { status: 'found', path: target, downloaded: false };
  }
}

/** The entries of a folder by name; empty when it does not exist. */
async function listFolder(folder: string): Promise<Map<string, Dirent>> {
  try {
    return new Map((await readdir(folder, { withFileTypes: true })).map((d) => [d.name, d]));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return new Map();
    throw ioError(`cannot read ${folder}`, err, folder);
  }
}

/**
 * Whether a listed entry is a file: the listing says so for plain files (no second call on a cache
 * hit) and folders; anything else (a symbolic link, a file system that gives no type) asks stat.
 */
async function isFileEntry(entry: Dirent | undefined, path: string): Promise<boolean> {
  if (!entry) return false;
  if (entry.isFile()) return true;
  if (entry.isDirectory()) return false;
  return isFile(path);
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

export async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return false;
    throw ioError(`cannot read ${path}`, err, path);
  }
}

async function readSmall(path: string): Promise<string | undefined> {
  try {
    const st = await stat(path);
    if (!st.isFile()) return undefined;
    if (st.size > POINTER_LIMIT) throw new SymsrvError('E_BAD_POINTER', `${path} is larger than a pointer file can be`, { subject: path });
    return await readFile(path, 'utf8');
  } catch (err) {
    if (err instanceof SymsrvError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw ioError(`cannot read ${path}`, err, path);
  }
}
