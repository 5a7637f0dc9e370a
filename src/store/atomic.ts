import { randomBytes } from 'node:crypto';
import { copyFile, mkdir, readdir, rename, rm, rmdir, stat } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname, join, sep } from 'node:path';
import { SymsrvError } from '../errors.js';

/**
 * Safe writes into a store: every file is written to a temporary name in its final folder and
 * renamed into place, so a reader (another debugger, another symsrv) sees the whole file or
 * nothing, and a killed run leaves no partial file under a real name (the pattern symbolicator's
 * cache uses). Temporary names are never looked up, so a stale one is harmless until cleaned.
 */

const TEMP_TAG = '.symsrv-tmp';
const HOST = hostname().replace(/[^A-Za-z0-9-]/g, '');
/** A temp file untouched this long is dead even if its writer's pid is reused. */
const STALE_MS = 10 * 60 * 1000;

/**
 * The last part of a temp name: a random start per process, then counted. Unique within the
 * process, and unlikely to meet another writer's on a shared store (whose host or pid differ
 * anyway). Not random per file: randomBytes was 1% of the CPU of a 200-file download.
 */
let tempCounter = randomBytes(4).readUInt32BE(0);

export function tempName(fileName: string): string {
  tempCounter = (tempCounter + 1) >>> 0;
  return `.${fileName}.${HOST}-${process.pid}-${tempCounter.toString(16).padStart(8, '0')}${TEMP_TAG}`;
}

export function isTempName(name: string): boolean {
  return name.endsWith(TEMP_TAG);
}

/** Whether a temp file was left by a writer that is gone (killed run). */
async function isStale(dir: string, name: string): Promise<boolean> {
  const m = /\.([A-Za-z0-9-]*)-(\d+)-[0-9a-f]{8}\.symsrv-tmp$/.exec(name);
  try {
    const st = await stat(join(dir, name));
    if (Date.now() - st.mtimeMs > STALE_MS) return true;
  } catch {
    return false; // already gone
  }
  if (!m || m[1] !== HOST) return false; // another machine's writer (a shared store): leave it to the age rule
  const pid = Number(m[2]);
  if (pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

/** Removes temp files in `dir` whose writer was killed. Best effort: a failure here never fails a lookup. */
export async function cleanStaleTemps(dir: string): Promise<number> {
  let removed = 0;
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return 0;
  }
  for (const name of names) {
    if (!isTempName(name)) continue;
    if (await isStale(dir, name)) {
      await rm(join(dir, name), { force: true }).catch(() => undefined);
      removed++;
    }
  }
  return removed;
}

/** Folders this process has made, or found: mkdir once per session. */
const prepared = new Set<string>();
/** Folders with no dead temp files: made by us, or listed once before our first write there. */
const cleaned = new Set<string>();

/**
 * Makes sure `dir` exists (once per session). Returns the first folder it had to create (so a
 * caller can take back what turned out useless), or undefined when `dir` was there.
 */
export async function ensureDir(dir: string): Promise<string | undefined> {
  if (prepared.has(dir)) return undefined;
  let created: string | undefined;
  try {
    created = await mkdir(dir, { recursive: true });
  } catch (err) {
    throw ioError(`cannot create folder ${dir}`, err, dir);
  }
  prepared.add(dir);
  if (created !== undefined) cleaned.add(dir);
  return created;
}

/**
 * Removes `dir` and its parents up to and including `top` while they are empty: the key folders
 * made for a download that found nothing. Best effort; a folder another lookup has just filled
 * stays (rmdir refuses), and one removed under a writer is made again by writeAtomically.
 */
export async function removeEmptyDirs(dir: string, top: string): Promise<void> {
  for (let d = dir; d === top || d.startsWith(top + sep); d = dirname(d)) {
    try {
      await rmdir(d);
    } catch {
      return;
    }
    prepared.delete(d);
    cleaned.delete(d);
    if (d === top) return;
  }
}

/**
 * `ensureDir`, and before the first write into a folder we did not make, removes the temp files
 * of killed runs there. Only writes pay for the listing: a lookup that ends in a 404 lists nothing.
 */
async function prepareForWrite(dir: string): Promise<void> {
  await ensureDir(dir);
  if (cleaned.has(dir)) return;
  cleaned.add(dir);
  await cleanStaleTemps(dir);
}

/**
 * Runs `write(tempPath)` and renames the result to `dir/fileName`. On any error the temp file is
 * removed and the error rethrown. Returns the final path.
 */
export async function writeAtomically(dir: string, fileName: string, write: (tempPath: string) => Promise<void>): Promise<string> {
  await prepareForWrite(dir);
  const temp = join(dir, tempName(fileName));
  const final = join(dir, fileName);
  try {
    try {
      await write(temp);
    } catch (err) {
      // The folder went away behind our back (a cache cleared mid-session): make it again, once.
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || !prepared.delete(dir)) throw err;
      cleaned.delete(dir);
      await prepareForWrite(dir);
      await write(temp);
    }
    await rename(temp, final);
  } catch (err) {
    await rm(temp, { force: true }).catch(() => undefined);
    if (err instanceof SymsrvError) throw err;
    throw ioError(`cannot write ${final}`, err, final);
  }
  return final;
}

/** Copies a file into `dir/fileName` through a temp file. */
export function copyAtomically(source: string, dir: string, fileName: string): Promise<string> {
  return writeAtomically(dir, fileName, (temp) => copyFile(source, temp));
}

export function ioError(what: string, err: unknown, subject: string): SymsrvError {
  const code = (err as NodeJS.ErrnoException)?.code;
  return new SymsrvError('E_IO', `${what}: ${code ?? (err as Error)?.message ?? String(err)}`, { cause: err, subject });
}
