import { lstat, mkdir, mkdtemp } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';

/**
 * Where downloads go when no store on the symbol path can be written (a read-only cache, a
 * path with no downstream store at all): one folder per user in the temp folder,
 * `$TMPDIR/symsrv-<uid>`, kept between runs and looked in before downloading again. A new
 * `mkdtemp` folder per run (the old way) re-downloaded every file on every run and left one
 * more folder behind each time. The folder is private (0700); one that is not a folder of ours
 * (a symbolic link, another user's, a shared temp folder's trap) is not used: then a fresh
 * private folder is made for the session, as before.
 */
export async function fallbackFolder(): Promise<string> {
  const uid = typeof process.getuid === 'function' ? process.getuid() : undefined;
  const name = `symsrv-${uid ?? userInfo().username.replace(/[^A-Za-z0-9_-]/g, '_')}`;
  const dir = join(tmpdir(), name);
  await mkdir(dir, { mode: 0o700 }).catch(() => undefined);
  try {
    const st = await lstat(dir);
    const ours = st.isDirectory() && (uid === undefined || (st.uid === uid && (st.mode & 0o077) === 0));
    if (ours) return dir;
  } catch {
    // fall through: a fresh folder
  }
  return mkdtemp(join(tmpdir(), `${name}-`));
}
