import { execFileSync } from 'node:child_process';
import { copyFile, mkdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';

/**
 * Lays out a symbol store as SymStore does: two-tier `name/ID/name`, or three-tier
 * `na/name/ID/name` (na: the first two characters of the name) with `index2.txt` at the root;
 * `pingme.txt` at the root as SymStore writes it. Keys are used as given (no case folding).
 */
export async function buildStore(
  root: string,
  files: ReadonlyArray<{ path: string; key: string }>,
  opts: { threeTier?: boolean } = {},
): Promise<void> {
  await mkdir(root, { recursive: true });
  await writeFile(join(root, 'pingme.txt'), '');
  if (opts.threeTier) await writeFile(join(root, 'index2.txt'), '');
  for (const f of files) {
    const dest = join(root, storePath(f.key, opts.threeTier ?? false));
    await mkdir(dirname(dest), { recursive: true });
    await copyFile(f.path, dest);
  }
}

/** A key's file path relative to the store root: `name/ID/name`, or `na/name/ID/name` three-tier. */
export function storePath(key: string, threeTier = false): string {
  const [name] = splitKey(key);
  return threeTier ? `${prefix(name)}/${key}` : key;
}

/** The three-tier folder: the first two characters, trailing dots and spaces dropped as Windows does. */
function prefix(name: string): string {
  return name.slice(0, 2).replace(/[. ]+$/, '');
}

function splitKey(key: string): [string, string, string] {
  const parts = key.split('/');
  if (parts.length !== 3 || parts.some((p) => p === '' || p === '.' || p === '..')) {
    throw new Error(`not a store key (name/ID/name): "${key}"`);
  }
  return parts as [string, string, string];
}

async function writePtr(root: string, key: string, text: string, threeTier: boolean): Promise<void> {
  const [name, id] = splitKey(key);
  const folder = threeTier ? join(root, prefix(name), name, id) : join(root, name, id);
  await mkdir(folder, { recursive: true });
  await writeFile(join(folder, 'file.ptr'), text);
}

/** `name/ID/file.ptr` containing `PATH:target` (what `symstore add /p` writes). */
export function writePointer(root: string, key: string, target: string, opts: { threeTier?: boolean } = {}): Promise<void> {
  return writePtr(root, key, `PATH:${target}`, opts.threeTier ?? false);
}

/** `name/ID/file.ptr` containing `MSG:text`. */
export function writeMessagePointer(root: string, key: string, text: string, opts: { threeTier?: boolean } = {}): Promise<void> {
  return writePtr(root, key, `MSG:${text}`, opts.threeTier ?? false);
}

/**
 * `name/ID/name.xx_`: the file as a cabinet made by gcab (MSZIP, CFDATA checksums), what
 * `symstore add /compress` leaves; the cabinet holds one file named as the key's file.
 */
export async function writePacked(root: string, key: { name: string; id: string }, source: string, opts: { threeTier?: boolean } = {}): Promise<string> {
  const folder = opts.threeTier ? join(root, key.name.slice(0, 2), key.name, key.id) : join(root, key.name, key.id);
  await mkdir(folder, { recursive: true });
  const staged = join(folder, key.name); // gcab stores the name as given: stage it under the key's name
  await copyFile(source, staged);
  const packed = join(folder, `${key.name.slice(0, -1)}_`);
  try {
    execFileSync('gcab', ['-c', '-z', packed, key.name], { cwd: folder, stdio: ['ignore', 'ignore', 'pipe'] });
  } finally {
    await rm(staged, { force: true });
  }
  return packed;
}
