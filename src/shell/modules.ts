import { readdir } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { SymsrvError } from '../errors.js';
import { computeKeys, dumpModulesOf, type ComputedKey } from '../keys/compute.js';
import { baseName, printable, type SymbolKey } from '../keys/key.js';
import { statTarget } from '../io/target.js';

/**
 * The shell's modules: the binaries named by TARGETs, each with the key of its symbol file and
 * what a lookup of that key gave. Loading a module reads only its headers (computeKeys); the
 * symbols are looked up later, by `.reload` or `ld`, as the Windows debuggers defer them
 * ("Deferred Symbol Loading").
 */

/** What is known about a module's symbols. */
export type SymbolState =
  /** Not looked up yet. */
  | { status: 'deferred' }
  /** Found: the local path of the PDB (or ELF debug file), and the store it came from. */
  | { status: 'loaded'; path: string; store: string }
  /** No store on the symbol path has it. */
  | { status: 'missing' }
  /** The lookup failed, or the module has no symbol key: the reason, in one line. */
  | { status: 'error'; message: string };

export interface ShellModule {
  /** The image name without its extension, as the debuggers name modules (`ntdll` for ntdll.dll). */
  name: string;
  /** The binary's path, as found from the TARGET (for a crash dump's module: the path the dump recorded). */
  file: string;
  /** The key of the symbol file: the PDB a PE names (`pdbref`), an ELF file's `elf-debug` key, a Mach-O file's dSYM (`macho-dsym`). */
  key: SymbolKey | undefined;
  keyKind: SymbolKind | undefined;
  state: SymbolState;
}

type SymbolKind = 'pdbref' | 'elf-debug' | 'macho-dsym';

export interface LoadedTargets {
  modules: ShellModule[];
  /** Files in folders passed over, with why (files of unknown format and symbol files are not listed). */
  skipped: { file: string; reason: string }[];
}

/**
 * Turns TARGETs (binaries, folders of binaries (not recursive), crash dumps) into modules, in the
 * order given (a folder's files sorted by name, a dump's modules in its module list's order). A
 * file named on the command line must be a binary (PE, ELF, Mach-O) or a minidump: anything else is a usage error (SymsrvError, exit 2), as for `symsrv fetch`.
 * In a folder, files of other formats (PDBs, text) are passed over silently, and binaries that
 * cannot be parsed are reported in `skipped`.
 */
export async function loadTargets(targets: readonly string[]): Promise<LoadedTargets> {
  const found: { file: string; name?: string; keys: ComputedKey[]; note?: string }[] = [];
  const skipped: LoadedTargets['skipped'] = [];
  for (const target of targets) {
    const st = await statTarget(target);
    if (!st.isDirectory()) {
      // A crash dump is a target of its own: its modules, with the keys the dump recorded
      // (the debugger's `lm` on a dump lists the same).
      const dump = await dumpModulesOf(target);
      if (dump) {
        for (const m of dump) {
          // The recorded path is outside text: `lm` prints it (and the name made from it).
          // (The name is cut from the raw path: the escapes' backslashes are no separators.)
          const file = printable(m.path);
          const keys = m.keys.map((k) => ({ file, kind: k.kind, key: k.key }));
          found.push({ file, name: printable(moduleName(m.path)), keys, ...(m.note ? { note: m.note } : {}) });
        }
        continue;
      }
      const keys = await computeKeys(target);
      if (!isBinary(keys)) {
        throw new SymsrvError('E_USAGE', `${target} is not a binary (PE image, ELF or Mach-O file) or a crash dump: the shell loads binaries, folders of binaries and dumps`, {
          subject: target,
        });
      }
      found.push({ file: target, keys });
      continue;
    }
    let entries;
    try {
      entries = await readdir(target, { withFileTypes: true });
    } catch (err) {
      throw new SymsrvError('E_IO', `cannot read folder ${target}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`, { subject: target });
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      if (!e.isFile()) continue;
      const file = join(target, e.name);
      try {
        const keys = await computeKeys(file);
        if (isBinary(keys)) found.push({ file, keys });
      } catch (err) {
        if (!(err instanceof SymsrvError)) throw err;
        if (err.code !== 'E_UNKNOWN_FORMAT') skipped.push({ file, reason: err.message });
      }
    }
  }
  const modules: ShellModule[] = [];
  const taken = new Set<string>();
  for (const f of found) modules.push(toModule(f, taken));
  return { modules, skipped };
}

/**
 * A PE image, an ELF or a Mach-O file: not a PDB, and not a crash dump (whose keys name its
 * modules; a dump is loaded when named, not from a folder). An ELF file without a build-id has no
 * keys but is still a binary.
 */
function isBinary(keys: readonly ComputedKey[]): boolean {
  if (keys.length === 0) return true; // only an ELF file without build-id computes no key
  return keys.some((k) => k.module === undefined && ['pe', 'elf', 'elf-debug', 'macho', 'macho-dsym'].includes(k.kind));
}

function toModule(f: { file: string; name?: string; keys: readonly ComputedKey[]; note?: string }, taken: Set<string>): ShellModule {
  const { file, keys, note } = f;
  const symbol = keys.find((k) => k.kind === 'pdbref') ?? keys.find((k) => k.kind === 'elf-debug') ?? keys.find((k) => k.kind === 'macho-dsym');
  const name = uniqueName(f.name ?? moduleName(file), taken);
  if (!symbol) {
    const isPe = keys.some((k) => k.kind === 'pe');
    const message = note
      ? `no symbol key: ${note}`
      : isPe
        ? 'no symbol key: the image names no PDB (no CodeView debug record)'
        : 'no symbol key: the ELF file has no build-id';
    return { name, file, key: undefined, keyKind: undefined, state: { status: 'error', message } };
  }
  return { name, file, key: symbol.key, keyKind: symbol.kind as SymbolKind, state: { status: 'deferred' } };
}

/**
 * `ntdll.dll` → `ntdll`; `libc.so.6` → `libc.so` (the last extension only, as the debuggers do).
 * A path a dump recorded may use either OS's separators (`C:\Windows\System32\ntdll.dll`).
 */
export function moduleName(file: string): string {
  const base = baseName(file);
  const ext = extname(base);
  return ext && ext !== base ? base.slice(0, -ext.length) : base;
}

/** Two modules with one name (`a/foo.dll`, `b/foo.dll`) become `foo` and `foo_2`; names compare case-insensitively. */
function uniqueName(name: string, taken: Set<string>): string {
  let candidate = name;
  for (let n = 2; taken.has(candidate.toLowerCase()); n++) candidate = `${name}_${n}`;
  taken.add(candidate.toLowerCase());
  return candidate;
}

/**
 * The modules a name or pattern selects, case-insensitively: by module name (`crash`), else by
 * image file name (`crash.exe`, which `.reload` takes in the debuggers); `*` and `?` are
 * wildcards ("String Wildcard Syntax").
 */
export function selectModules(modules: readonly ShellModule[], pattern: string): ShellModule[] {
  const re = wildcard(pattern);
  // Module names first: `crash` is the module crash, not also crash_2 whose file is elf/crash.
  const byName = modules.filter((m) => re.test(m.name));
  return byName.length > 0 ? byName : modules.filter((m) => re.test(baseName(m.file)));
}

function wildcard(pattern: string): RegExp {
  const body = [...pattern].map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[\\^$.|+()[\]{}]/g, '\\$&'))).join('');
  return new RegExp(`^${body}$`, 'i');
}
