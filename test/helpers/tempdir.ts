import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A new empty folder `<base>/<prefix>XXXXXX` (base: the OS temp dir; the bench passes /dev/shm). */
export function makeTempDir(prefix: string, base: string = tmpdir()): Promise<string> {
  return mkdtemp(join(base, prefix));
}

/** Removes a folder and everything in it; no error if it is already gone. */
export function removeDir(dir: string): Promise<void> {
  return rm(dir, { recursive: true, force: true, maxRetries: 3 });
}

/** Every file under `dir`, as sorted paths relative to it ([] when `dir` does not exist). */
export async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string, rel: string): Promise<void> => {
    for (const e of await readdir(d, { withFileTypes: true }).catch(() => [])) {
      if (e.isDirectory()) await walk(join(d, e.name), rel + e.name + '/');
      else out.push(rel + e.name);
    }
  };
  await walk(dir, '');
  return out.sort();
}
