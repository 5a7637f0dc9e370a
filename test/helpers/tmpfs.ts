import { spawnSync } from 'node:child_process';
import { makeTempDir, removeDir } from './tempdir.js';

export interface SmallDisk {
  dir: string;
  /** Makes the file system read-only (as a read-only share or cache). */
  readOnly(): void;
  unmount(): Promise<void>;
}

/**
 * A real, small file system (tmpfs of `sizeKiB`) to fill: disk-full (ENOSPC) paths and bounds on
 * what a download may write are tested against it, not simulated. Needs root (mount); returns the
 * reason instead when this machine cannot mount, so the test skips with it.
 */
export async function mountSmallDisk(sizeKiB: number): Promise<SmallDisk | { skip: string }> {
  if (process.getuid?.() !== 0) return { skip: 'mounting a tmpfs needs root' };
  const dir = await makeTempDir('symsrv-tmpfs-');
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeKiB}k`, 'tmpfs', dir], { encoding: 'utf8' });
  if (r.status !== 0) {
    await removeDir(dir);
    return { skip: `mount -t tmpfs failed: ${(r.stderr || r.error?.message || '').trim()}` };
  }
  return {
    dir,
    readOnly: () => {
      const ro = spawnSync('mount', ['-o', 'remount,ro', dir], { encoding: 'utf8' });
      if (ro.status !== 0) throw new Error(`remount,ro failed: ${ro.stderr}`);
    },
    unmount: async () => {
      spawnSync('umount', ['-l', dir]);
      await removeDir(dir);
    },
  };
}
