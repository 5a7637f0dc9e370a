import { SymsrvError } from '../../errors.js';
import type { ByteSource } from '../../io/source.js';

/**
 * Minidump (MDMP) header, stream directory, SystemInfo and ModuleList: just what the keys of a
 * dump's modules need. Windows (dbghelp), Breakpad and Crashpad write the same container
 * (Microsoft "MINIDUMP_HEADER", "MINIDUMP_MODULE"; Breakpad's minidump_format.h for the
 * non-Windows platform ids and the `BpEL` CodeView record). Every read is positioned and
 * checked against the file; the memory, thread and other streams are never touched, so a
 * multi-GB full dump costs a few pages.
 */

/** MINIDUMP_HEADER.Signature, 'MDMP' read little-endian. */
export const MDMP_SIGNATURE = 0x504d444d;
const HEADER_SIZE = 32;
const DIRECTORY_ENTRY_SIZE = 12;
const MODULE_SIZE = 108;

const MODULE_LIST_STREAM = 4;
const SYSTEM_INFO_STREAM = 7;

/** Real dumps have 5-20 streams; Windows defines ~25 types, Breakpad/Crashpad a dozen more. */
export const MAX_STREAMS = 4096;
/** A process with more modules than this does not exist; a count past it is corruption. */
export const MAX_MODULES = 1 << 16;
/** A module path is a Windows path (32767 UTF-16 units at most) or a POSIX one (PATH_MAX 4096). */
const MAX_NAME_BYTES = 2 * 32768;
/** A CodeView record is a small header and a path or a build-id; longer is not a CodeView record. */
const MAX_CODEVIEW = 64 * 1024;
/**
 * All module names and CodeView records together: real dumps hold a few hundred KB of them. The
 * records may share bytes (every module may point at one 64 KiB name), so without this bound a
 * small file could make us hold gigabytes of strings.
 */
export const MAX_MODULE_STRINGS = 64 * 1024 * 1024;
/** Build-ids are 16 or 20 bytes (or a user's --build-id=0x...); a kilobyte is not one. */
const MAX_BUILD_ID = 1024;

/** MINIDUMP_SYSTEM_INFO.PlatformId values (VER_PLATFORM_WIN32_NT, and Breakpad's MD_OS_*). */
export const Platform = {
  WIN32_NT: 2,
  MAC_OS_X: 0x8101,
  IOS: 0x8102,
  LINUX: 0x8201,
  SOLARIS: 0x8202,
  ANDROID: 0x8203,
  PS3: 0x8204,
  NACL: 0x8205,
  FUCHSIA: 0x8206,
} as const;

/** The CodeView record of a module, as its signature says. */
export type MinidumpCodeView =
  /** PDB 7.0 record (Windows); Breakpad and Crashpad also store a Mach-O LC_UUID this way (age 0). */
  | { format: 'RSDS'; guid: Buffer; age: number; path: string }
  | { format: 'NB10'; signature: number; age: number; path: string }
  /** Breakpad/Crashpad MDCVInfoELF (`BpEL`): the module's whole GNU build-id. */
  | { format: 'ELF'; buildId: Buffer }
  /** Any other signature (CV_SIGNATURE_NB09, a corrupt record): no key can be made from it. */
  | { format: 'other'; signature: number };

export interface MinidumpModule {
  /** MINIDUMP_MODULE.BaseOfImage (kept as bigint: 64-bit addresses exceed 2^53). */
  base: bigint;
  sizeOfImage: number;
  checksum: number;
  /** The image's TimeDateStamp (0 for non-Windows modules). */
  timestamp: number;
  /** The module's path as the writer recorded it (any OS's separators). */
  path: string;
  /** Undefined when the module has no CodeView record. */
  codeView: MinidumpCodeView | undefined;
}

export interface Minidump {
  /** MINIDUMP_SYSTEM_INFO.PlatformId; undefined when the dump has no SystemInfo stream. */
  platform: number | undefined;
  /** The ModuleList stream's modules, in stream order (the main executable first, by convention). */
  modules: MinidumpModule[];
}

const hex = (n: number): string => `0x${n.toString(16)}`;

function badDump(src: ByteSource, offset: number, what: string): SymsrvError {
  return new SymsrvError('E_BAD_MINIDUMP', `bad minidump ${what} in ${src.name} at offset ${hex(offset)}`, { subject: src.name });
}

/**
 * A range the dump declares (an RVA and a size) must lie inside the file: a truncated or
 * corrupt dump is bad input (E_BAD_MINIDUMP), not a short read of ours.
 */
async function readRange(src: ByteSource, rva: number, size: number, what: string, from: number): Promise<Buffer> {
  if (rva + size > src.size) {
    throw badDump(src, from, `${what}: ${size} bytes at ${hex(rva)} run past the end of the file (${src.size} bytes)`);
  }
  return src.read(rva, size, what);
}

export async function parseMinidump(src: ByteSource): Promise<Minidump> {
  if (src.size < HEADER_SIZE) throw badDump(src, 0, `header: the file has ${src.size} bytes, a header 32`);
  const header = await src.read(0, HEADER_SIZE, 'minidump header');
  if (header.readUInt32LE(0) !== MDMP_SIGNATURE) throw badDump(src, 0, 'header (no MDMP signature)');
  const streams = header.readUInt32LE(8);
  const directoryRva = header.readUInt32LE(12);
  if (streams > MAX_STREAMS) throw badDump(src, 8, `header: ${streams} streams (at most ${MAX_STREAMS})`);
  const directory = await readRange(src, directoryRva, streams * DIRECTORY_ENTRY_SIZE, 'stream directory', 12);

  // Streams the dump lists but that lie outside the file (a dump cut short while written) are
  // only an error when they are the ones we read: the module list of such a dump is often whole.
  let moduleList: { rva: number; size: number; at: number } | undefined;
  let systemInfo: { rva: number; size: number; at: number } | undefined;
  for (let i = 0; i < streams; i++) {
    const at = i * DIRECTORY_ENTRY_SIZE;
    const type = directory.readUInt32LE(at);
    const entry = { size: directory.readUInt32LE(at + 4), rva: directory.readUInt32LE(at + 8), at: directoryRva + at };
    // The first of each kind counts, as in dbghelp's MiniDumpReadDumpStream.
    if (type === MODULE_LIST_STREAM && !moduleList) moduleList = entry;
    else if (type === SYSTEM_INFO_STREAM && !systemInfo) systemInfo = entry;
  }
  if (!moduleList) throw badDump(src, 12, `stream directory: no module list stream among ${streams} streams`);

  let platform: number | undefined;
  if (systemInfo) {
    // MINIDUMP_SYSTEM_INFO: PlatformId is the u32 at offset 20.
    if (systemInfo.size < 24) throw badDump(src, systemInfo.at, `system info stream: ${systemInfo.size} bytes, at least 24 needed`);
    platform = (await readRange(src, systemInfo.rva, 24, 'system info stream', systemInfo.at)).readUInt32LE(20);
  }
  return { platform, modules: await readModules(src, moduleList) };
}

async function readModules(src: ByteSource, stream: { rva: number; size: number; at: number }): Promise<MinidumpModule[]> {
  if (stream.size < 4) throw badDump(src, stream.at, `module list stream: ${stream.size} bytes`);
  const count = (await readRange(src, stream.rva, 4, 'module list count', stream.at)).readUInt32LE(0);
  if (count > MAX_MODULES) throw badDump(src, stream.rva, `module list: ${count} modules (at most ${MAX_MODULES})`);
  // Some writers (Breakpad on 64-bit hosts) pad the count to 8 bytes; the stream size tells which.
  const first = stream.size === 8 + count * MODULE_SIZE ? 8 : 4;
  if (stream.size < first + count * MODULE_SIZE) {
    throw badDump(src, stream.rva, `module list: ${count} modules need ${first + count * MODULE_SIZE} bytes, the stream has ${stream.size}`);
  }
  const table = await readRange(src, stream.rva + first, count * MODULE_SIZE, 'module list', stream.at);
  const modules: MinidumpModule[] = [];
  const budget = { left: MAX_MODULE_STRINGS };
  for (let i = 0; i < count; i++) {
    const m = table.subarray(i * MODULE_SIZE, (i + 1) * MODULE_SIZE);
    const at = stream.rva + first + i * MODULE_SIZE;
    const nameRva = m.readUInt32LE(20);
    const cvSize = m.readUInt32LE(76);
    const cvRva = m.readUInt32LE(80);
    modules.push({
      base: m.readBigUInt64LE(0),
      sizeOfImage: m.readUInt32LE(8),
      checksum: m.readUInt32LE(12),
      timestamp: m.readUInt32LE(16),
      path: await readString(src, nameRva, at + 20, budget),
      codeView: cvSize === 0 ? undefined : await readCodeView(src, cvRva, cvSize, at + 76, budget),
    });
  }
  return modules;
}

/** A MINIDUMP_STRING: a u32 byte length, then UTF-16LE text (not counting the terminating NUL). */
async function readString(src: ByteSource, rva: number, from: number, budget: { left: number }): Promise<string> {
  const length = (await readRange(src, rva, 4, 'module name length', from)).readUInt32LE(0);
  if (length > MAX_NAME_BYTES || length % 2 !== 0) throw badDump(src, rva, `module name: length ${length}`);
  spend(src, budget, length, from);
  return (await readRange(src, rva + 4, length, 'module name', rva)).toString('utf16le');
}

function spend(src: ByteSource, budget: { left: number }, bytes: number, from: number): void {
  budget.left -= bytes;
  if (budget.left < 0) throw badDump(src, from, `module list: names and CodeView records past ${MAX_MODULE_STRINGS} bytes in all`);
}

async function readCodeView(src: ByteSource, rva: number, size: number, from: number, budget: { left: number }): Promise<MinidumpCodeView> {
  if (size < 4 || size > MAX_CODEVIEW) throw badDump(src, from, `CodeView record: ${size} bytes`);
  spend(src, budget, size, from);
  const cv = await readRange(src, rva, size, 'CodeView record', from);
  const signature = cv.readUInt32LE(0);
  const path = (start: number): string => {
    const nul = cv.indexOf(0, start);
    return cv.toString('utf8', start, nul < 0 ? cv.length : nul);
  };
  switch (signature) {
    case 0x53445352: // 'RSDS'
      if (size < 24) throw badDump(src, rva, `RSDS CodeView record: ${size} bytes, at least 24 needed`);
      return { format: 'RSDS', guid: Buffer.from(cv.subarray(4, 20)), age: cv.readUInt32LE(20), path: path(24) };
    case 0x3031424e: // 'NB10': offset, signature, age, path
      if (size < 16) throw badDump(src, rva, `NB10 CodeView record: ${size} bytes, at least 16 needed`);
      return { format: 'NB10', signature: cv.readUInt32LE(8), age: cv.readUInt32LE(12), path: path(16) };
    case 0x4270454c: // 'BpEL' (MD_CVINFOELF_SIGNATURE): the build-id is the rest of the record
      if (size - 4 > MAX_BUILD_ID || size === 4) throw badDump(src, rva, `ELF CodeView record: a build-id of ${size - 4} bytes`);
      return { format: 'ELF', buildId: Buffer.from(cv.subarray(4)) };
    default:
      return { format: 'other', signature };
  }
}
