import { rm, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { SymsrvError } from '../../errors.js';
import { MAX_CABINET_INPUT, writeCabinet } from '../../formats/cab/write.js';
import { withFile } from '../../io/source.js';
import { MsfFile } from '../../formats/msf/msf.js';
import { parseElf } from '../../formats/elf/elf.js';
import type { ComputedKey } from '../../keys/compute.js';
import type { SymbolKey } from '../../keys/key.js';
import { copyAtomically, writeAtomically } from '../atomic.js';
import { POINTER_FILE, compressedName, keyFolder, storePath } from '../layout.js';
import { AdminFiles, addLine, formatId, type Ref } from './admin.js';
import { folderState, formatRefs, isThreeTier, parseRefs, readText, type FileType, type RefEntry } from './refs.js';

/**
 * `symsrv add`: SymStore's add transaction. Every file is stored under its key (two-tier, or
 * three-tier when the store has index2.txt) as a copy, a MSZIP cabinet (`--compress`) or a
 * file.ptr (`--pointer`), its key folder's refs.ptr gains a line, and 000Admin records the
 * transaction, so `symsrv del ID` (or symstore.exe) can take exactly it out again.
 */

export interface AddOptions {
  compress?: boolean;
  pointer?: boolean;
  product?: string;
  version?: string;
  comment?: string;
  /** Defaults to now. */
  now?: Date;
}

export interface StoredEntry {
  /** The source file. */
  file: string;
  key: string;
  /** What was written: the file, its cabinet, or file.ptr. */
  path: string;
  how: 'copy' | 'compressed' | 'pointer';
  /** Why a --compress file went in uncompressed, when it did. */
  note?: string;
}

export interface AddResult {
  id: string;
  stored: StoredEntry[];
  failed: { file: string; key: string; error: SymsrvError }[];
}

/**
 * Whether `add` stores a file under key `k`: under its own keys (a `pdbref` names another file),
 * and under the ELF debug-file key only when it holds DWARF (a stripped binary's `elf-debug` key
 * says where its debug file lives; the binary itself is not that file).
 */
async function isCabinet(path: string): Promise<boolean> {
  return withFile(path, async (src) => src.size >= 4 && (await src.read(0, 4)).toString('latin1') === 'MSCF');
}

async function storable(k: ComputedKey): Promise<boolean> {
  if (k.kind === 'pdbref') return false;
  if (k.kind !== 'elf-debug') return true;
  return (await withFile(k.file, parseElf)).hasDebugInfo;
}

export async function addToStore(storeDir: string, keys: ComputedKey[], options: AddOptions = {}): Promise<AddResult> {
  const store = resolve(storeDir);
  const admin = new AdminFiles(store);
  // One entry per key: the same file named twice, or two copies of one file, are stored once.
  const unique = new Map<string, ComputedKey>();
  const refused: AddResult['failed'] = [];
  for (const k of keys) {
    if (unique.has(k.key.index)) continue;
    // `symsrv key x.pd_` gives the keys of the file inside; storing the cabinet's bytes under
    // that file's name would corrupt the store, and re-filing cabinets is not what add is for.
    if (await isCabinet(k.file)) {
      const why = `${k.file} is a compressed store file (a CAB); add the file it holds (cabextract expands it; --compress stores it compressed)`;
      refused.push({ file: k.file, key: k.key.index, error: new SymsrvError('E_USAGE', why, { subject: k.file }) });
      continue;
    }
    if (await storable(k)) unique.set(k.key.index, k);
  }
  const types = new Map<string, FileType>();
  for (const k of unique.values()) types.set(k.key.index, await fileType(k));

  return admin.locked(async () => {
    const id = formatId((await admin.lastId()) + 1);
    const threeTier = await isThreeTier(store);
    const now = options.now ?? new Date();
    const result: AddResult = { id, stored: [], failed: [...refused] };
    const recorded: { name: string; id: string; source: string }[] = [];
    for (const k of unique.values()) {
      const source = resolve(k.file);
      try {
        const entry = await storeOne(store, k.key, source, threeTier, types.get(k.key.index)!, id, options);
        result.stored.push({ ...entry, file: k.file, key: k.key.index });
        recorded.push({ name: k.key.name, id: k.key.id, source });
      } catch (err) {
        if (!(err instanceof SymsrvError)) throw err;
        result.failed.push({ file: k.file, key: k.key.index, error: err });
      }
    }
    // The transaction is recorded with what was stored, even when some files failed: whatever
    // is in the store must be reachable by `del`.
    if (recorded.length > 0) {
      const ref: Ref = options.pointer ? 'ptr' : 'file';
      await admin.writeTransaction(id, recorded);
      const line = addLine({ id, ref, when: now, product: options.product ?? '', version: options.version ?? '', comment: options.comment ?? '' });
      await admin.appendServer(line);
      await admin.appendHistory(line);
      await admin.setLastId(id);
      await admin.touchPingme(now);
    }
    return result;
  });
}

async function storeOne(
  store: string,
  key: SymbolKey,
  source: string,
  threeTier: boolean,
  type: FileType,
  id: string,
  options: AddOptions,
): Promise<Omit<StoredEntry, 'file' | 'key'>> {
  const folder = storePath(store, keyFolder(key, threeTier)); // every component checked, inside the store
  let path: string;
  let how: StoredEntry['how'];
  let note: string | undefined;
  if (options.pointer) {
    path = await writeAtomically(folder, POINTER_FILE, (temp) => writeFile(temp, `PATH:${source}`));
    how = 'pointer';
  } else if (options.compress && (await stat(source)).size <= MAX_CABINET_INPUT) {
    const mtime = (await stat(source)).mtime;
    path = await writeAtomically(folder, compressedName(key.name), (temp) => writeCabinet(source, temp, key.name, mtime));
    how = 'compressed';
  } else {
    if (options.compress) note = 'too large for one cabinet (2 GiB): stored uncompressed';
    path = await copyAtomically(source, folder, key.name);
    how = 'copy';
  }
  const refsPath = join(folder, 'refs.ptr');
  const refs = parseRefs(await readText(refsPath));
  const entry: RefEntry = { id, ref: how === 'pointer' ? 'ptr' : 'file', source, type, compressed: how === 'compressed' };
  refs.push(entry);
  await writeAtomically(folder, 'refs.ptr', (temp) => writeFile(temp, formatRefs(refs)));
  // A file added after a pointer takes over: file.ptr goes, as symstore leaves it.
  if (how !== 'pointer' && folderState(refs).pointer === undefined) await rm(join(folder, POINTER_FILE), { force: true });
  return { path, how, ...(note ? { note } : {}) };
}

/** What refs.ptr calls the file: an image (`bin`), or a PDB with (`pri`) or without (`pub`) private symbols. */
async function fileType(k: ComputedKey): Promise<FileType> {
  if (k.kind === 'pe' || k.kind === 'elf') return 'bin';
  if (k.kind === 'elf-debug') return 'pri';
  try {
    return (await hasTypeRecords(k.file)) ? 'pri' : 'pub';
  } catch {
    return 'pri'; // a portable PDB (not MSF) always has its private data
  }
}

/**
 * Whether a PDB 7 holds type records (TPI, stream 2: TypeIndexEnd > TypeIndexBegin in its
 * header). `/PDBSTRIPPED` PDBs keep only publics and an empty TPI: what symstore calls `pub`.
 */
async function hasTypeRecords(file: string): Promise<boolean> {
  return withFile(file, async (src) => {
    const msf = await MsfFile.open(src);
    if (msf.streamCount <= 2 || msf.streamSize(2) < 16) return false;
    const head = await (await msf.stream(2)).read(0, 16, 'TPI stream header');
    return head.readUInt32LE(12) > head.readUInt32LE(8);
  });
}


