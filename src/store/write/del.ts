import { readdir, rm, rmdir, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { SymsrvError } from '../../errors.js';
import { ioError, writeAtomically } from '../atomic.js';
import { POINTER_FILE, compressedName, keyFolder, storePath } from '../layout.js';
import { parseKey } from '../../keys/key.js';
import { AdminFiles, formatId, lineId } from './admin.js';
import { folderState, formatRefs, isThreeTier, parseRefs, readText } from './refs.js';

/**
 * `symsrv del ID`: SymStore's delete transaction. Each key folder the transaction wrote loses
 * that transaction's refs.ptr lines; a stored file goes only when no other transaction still
 * refers to it as a file, file.ptr follows the last remaining entry (refs.ts), and a folder with
 * no entry left is removed with its empty parents up to the store. 000Admin: the line leaves
 * server.txt, history.txt gains `NEXT,del,ID`, lastid.txt becomes NEXT, the transaction file is
 * renamed `ID.deleted`.
 */

export interface DeleteResult {
  /** The id of the delete transaction itself. */
  id: string;
  deleted: string;
  /** Files and pointers removed. */
  removed: string[];
  /** Key folders that still hold something of another transaction. */
  kept: string[];
}

export async function deleteTransaction(storeDir: string, transaction: string): Promise<DeleteResult> {
  if (!/^\d{1,10}$/.test(transaction)) {
    throw new SymsrvError('E_USAGE', `"${transaction}" is not a transaction id (up to 10 digits, as in 000Admin/server.txt)`);
  }
  const target = formatId(Number(transaction));
  const store = resolve(storeDir);
  const admin = new AdminFiles(store);
  return admin.locked(async () => {
    const server = await admin.serverLines();
    if (!server.some((l) => lineId(l) === target)) {
      throw new SymsrvError('E_USAGE', `transaction ${target} is not in ${join(admin.dir, 'server.txt')} (never added, or deleted already)`, { subject: store });
    }
    const entries = await admin.readTransaction(target);
    const threeTier = await isThreeTier(store);
    const result: DeleteResult = { id: formatId((await admin.lastId()) + 1), deleted: target, removed: [], kept: [] };
    for (const e of entries) {
      const key = parseKey(`${e.name}/${e.id}/${e.name}`);
      const folder = storePath(store, keyFolder(key, threeTier));
      const refsPath = join(folder, 'refs.ptr');
      const before = parseRefs(await readText(refsPath));
      const after = before.filter((r) => r.id !== target);
      const state = folderState(after);
      const drop = [...(state.keepPlain ? [] : [key.name]), ...(state.keepCompressed ? [] : [compressedName(key.name)])];
      for (const name of drop) {
        if (await removeIfThere(join(folder, name))) result.removed.push(join(folder, name));
      }
      if (state.pointer !== undefined) {
        await writeAtomically(folder, POINTER_FILE, (temp) => writeFile(temp, state.pointer!.startsWith('PATH:') ? state.pointer! : `PATH:${state.pointer}`));
      } else if (await removeIfThere(join(folder, POINTER_FILE))) {
        result.removed.push(join(folder, POINTER_FILE));
      }
      if (after.length > 0) {
        await writeAtomically(folder, 'refs.ptr', (temp) => writeFile(temp, formatRefs(after)));
        result.kept.push(folder);
      } else {
        await rm(refsPath, { force: true });
        await removeEmptyUpTo(folder, store);
      }
    }
    await admin.setServerLines(server.filter((l) => lineId(l) !== target));
    await admin.appendHistory(`${result.id},del,${target}`);
    await admin.setLastId(result.id);
    await admin.markDeleted(target);
    await admin.touchPingme(new Date());
    return result;
  });
}

async function removeIfThere(path: string): Promise<boolean> {
  try {
    await rm(path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw ioError(`cannot remove ${path}`, err, path);
  }
}

/** Removes `folder` and its parents while they are empty, stopping at the store's root. */
async function removeEmptyUpTo(folder: string, store: string): Promise<void> {
  for (let dir = folder; dir !== store && dir.startsWith(store); dir = dirname(dir)) {
    try {
      if ((await readdir(dir)).length > 0) return;
      await rmdir(dir);
    } catch {
      return; // gone already, or not ours to remove: the store stays usable either way
    }
  }
}


