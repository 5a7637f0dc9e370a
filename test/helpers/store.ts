import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';

/**
 * Lays out a symbol store as SymStore does: two-tier `name/ID/name`, or three-tier
 * `na/name/ID/name` with `index2.txt` at the root; `pingme.txt` marks it a store.
 */
export async function buildStore(root: string, files: Array<{ path: string; key: string }>, opts: { threeTier?: boolean } = {}): Promise<void> {
  await mkdir(root, { recursive: true });
  await writeFile(join(root, 'pingme.txt'), '');
  if (opts.threeTier) await writeFile(join(root, 'index2.txt'), '');
  for (const f of files) {
    const dest = join(root, storePath(f.key, opts.threeTier ?? false));
    await mkdir(dirname(dest), { recursive: true });
    await copyFile(f.path, dest);
  }
}

export function storePath(key: string, threeTier: boolean): string {
  return threeTier ? `${key.slice(0, 2)}/${key}` : key;
}

async function writePtr(root: string, key: string, text: string): Promise<void> {
  const [name, id] = key.split('/');
  const folder = join(root, name!, id!);
  await mkdir(folder, { recursive: true });
  await writeFile(join(folder, 'file.ptr'), text);
}

/** `file.ptr` with `PATH:target` (SymStore /p). */
export function writePointer(root: string, key: string, target: string): Promise<void> {
  return writePtr(root, key, `PATH:${target}`);
}

/** `file.ptr` with `MSG:text`. */
export function writeMessagePointer(root: string, key: string, text: string): Promise<void> {
  return writePtr(root, key, `MSG:${text}`);
}
