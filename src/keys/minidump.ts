import { SymsrvError } from '../errors.js';
import { Platform, type Minidump, type MinidumpModule } from '../formats/minidump/minidump.js';
import {
  baseName,
  elfDebugKey,
  elfKey,
  guidText,
  machoDsymKey,
  machoKey,
  pdbKey,
  pdbNb10Key,
  peKey,
  type KeyKind,
  type SymbolKey,
} from './key.js';

/**
 * The keys of a dump's modules, from the values the dump recorded (no module file needed): what
 * `symchk /id DUMP` looks up. Which key a CodeView record gives depends on the dump's platform,
 * because Breakpad and Crashpad reuse the Windows record layouts (docs/keys.md, "Minidumps"):
 *
 * - Windows: the image's key (name, TimeDateStamp, SizeOfImage) and its PDB's (RSDS or NB10).
 * - macOS/iOS: the RSDS "GUID" is the Mach-O LC_UUID, written so that its GUID text form is the
 *   UUID (age 0): the binary's `mach-uuid` key and its dSYM's `mach-uuid-sym` key.
 * - Linux/Android: a `BpEL` record holds the whole GNU build-id: the ELF keys. (Older Breakpad
 *   Linux clients wrote an RSDS record holding only the first 16 bytes of the build-id: no key
 *   can be built from that.) The LinuxDsoDebug stream lists paths and load addresses only, no
 *   build-ids, so it adds no keys.
 */

export interface DumpModuleKeys {
  /** The module's path as the dump recorded it. */
  path: string;
  keys: { kind: KeyKind; key: SymbolKey }[];
  /** Why a module has fewer keys than its kind would give (no CodeView record, a bad name...). */
  note?: string;
}

const isWindows = (platform: number | undefined): boolean =>
  // No SystemInfo stream: dbghelp always writes one, so such a dump is a trimmed Windows dump at best.
  platform === undefined || platform === Platform.WIN32_NT || platform < 0x8000;
const isApple = (platform: number | undefined): boolean => platform === Platform.MAC_OS_X || platform === Platform.IOS;

export function dumpModuleKeys(dump: Minidump): DumpModuleKeys[] {
  return dump.modules.map((m) => moduleKeys(m, dump.platform));
}

function moduleKeys(m: MinidumpModule, platform: number | undefined): DumpModuleKeys {
  const out: DumpModuleKeys = { path: m.path, keys: [] };
  const name = baseName(m.path);
  const add = (kind: KeyKind, build: () => SymbolKey): void => {
    try {
      out.keys.push({ kind, key: build() });
    } catch (err) {
      // A recorded name that cannot be a store key (empty, `..`, control characters) names no
      // file we could fetch; the module's other keys are still good.
      if (!(err instanceof SymsrvError && err.code === 'E_BAD_KEY')) throw err;
      out.note = err.message;
    }
  };
  const cv = m.codeView;
  if (cv?.format === 'ELF') {
    add('elf', () => elfKey(name, cv.buildId));
    add('elf-debug', () => elfDebugKey(cv.buildId));
    return out;
  }
  if (isApple(platform)) {
    if (cv?.format === 'RSDS') {
      const uuid = guidText(cv.guid);
      add('macho', () => machoKey(name, uuid));
      add('macho-dsym', () => machoDsymKey(uuid));
    } else {
      out.note = 'no Mach-O UUID recorded (no RSDS CodeView record)';
    }
    return out;
  }
  if (!isWindows(platform)) {
    out.note =
      cv?.format === 'RSDS'
        ? 'the RSDS record holds a truncated build-id (an old Breakpad Linux client): no ELF key can be built'
        : 'no build-id recorded (no BpEL CodeView record)';
    return out;
  }
  add('pe', () => peKey(name, m.timestamp, m.sizeOfImage));
  if (cv?.format === 'RSDS') add('pdbref', () => pdbKey(baseName(cv.path), cv.guid, cv.age));
  else if (cv?.format === 'NB10') add('pdbref', () => pdbNb10Key(baseName(cv.path), cv.signature, cv.age));
  else out.note = 'no PDB recorded (no RSDS/NB10 CodeView record)';
  return out;
}
