import { SymsrvError } from '../../errors.js';
import type { ByteSource } from '../../io/source.js';

/**
 * Mach-O headers and the LC_UUID load command, thin or fat (universal): what a symbol key needs
 * (Apple <mach-o/loader.h> "mach_header", "load_command", "uuid_command"; <mach-o/fat.h>
 * "fat_header", "fat_arch", "fat_arch_64"). Both byte orders. Counts are bounded and every
 * offset is checked; only the headers and load commands of each slice are read.
 */

export interface MachOSlice {
  /** cputype (0x01000007 x86_64, 0x0100000C arm64, 7 i386, 12 arm, ...). */
  cpuType: number;
  cpuSubtype: number;
  /** filetype (2 MH_EXECUTE, 6 MH_DYLIB, 8 MH_BUNDLE, 0xA MH_DSYM, ...). */
  fileType: number;
  /** The LC_UUID bytes, as stored (the order llvm-objdump prints); undefined when there is none. */
  uuid: Buffer | undefined;
  /** Where the slice starts in the file (0 for a thin file). */
  offset: number;
}

export interface MachOInfo {
  /** A universal (fat) file: one slice per architecture. */
  fat: boolean;
  slices: MachOSlice[];
}

export const MH_DSYM = 0xa;
const LC_UUID = 0x1b;

const MH_MAGIC = 0xfeedface;
const MH_MAGIC_64 = 0xfeedfacf;
const FAT_MAGIC = 0xcafebabe;
const FAT_MAGIC_64 = 0xcafebabf;

/** Universal files hold a handful of architectures; `file` treats a count of 20 or more as a Java class file. */
export const MAX_FAT_ARCHS = 20;
/** Load commands of real images take a few KB (a large dylib: ~100 KB); beyond this it is corruption. */
export const MAX_SIZEOFCMDS = 16 * 1024 * 1024;

const hex = (n: number): string => `0x${n.toString(16)}`;

function badMachO(src: ByteSource, offset: number, what: string): SymsrvError {
  return new SymsrvError('E_BAD_MACHO', `bad Mach-O ${what} in ${src.name} at offset ${hex(offset)}`, { subject: src.name });
}

/** A fat header: big-endian magic and an architecture count small enough not to be a Java class file. */
export function isFatHeader(head: Buffer): boolean {
  if (head.length < 8) return false;
  const magic = head.readUInt32BE(0);
  return (magic === FAT_MAGIC || magic === FAT_MAGIC_64) && head.readUInt32BE(4) < MAX_FAT_ARCHS;
}

/** A thin Mach-O header in either byte order. */
export function isThinHeader(head: Buffer): boolean {
  if (head.length < 4) return false;
  const le = head.readUInt32LE(0);
  const be = head.readUInt32BE(0);
  return le === MH_MAGIC || le === MH_MAGIC_64 || be === MH_MAGIC || be === MH_MAGIC_64;
}

export async function parseMachO(src: ByteSource): Promise<MachOInfo> {
  if (src.size < 8) throw badMachO(src, 0, `header: the file has ${src.size} bytes`);
  const head = await src.read(0, 8, 'Mach-O magic');
  if (isFatHeader(head)) return { fat: true, slices: await readFat(src, head) };
  if (!isThinHeader(head)) throw badMachO(src, 0, 'header (no Mach-O magic)');
  return { fat: false, slices: [await readSlice(src, 0, src.size)] };
}

async function readFat(src: ByteSource, head: Buffer): Promise<MachOSlice[]> {
  const is64 = head.readUInt32BE(0) === FAT_MAGIC_64;
  const count = head.readUInt32BE(4);
  const entrySize = is64 ? 32 : 20;
  if (8 + count * entrySize > src.size) throw badMachO(src, 4, `fat header: ${count} architectures do not fit in the file`);
  const table = await src.read(8, count * entrySize, 'fat architectures');
  const slices: MachOSlice[] = [];
  for (let i = 0; i < count; i++) {
    const e = table.subarray(i * entrySize, (i + 1) * entrySize);
    const at = 8 + i * entrySize;
    const offset = is64 ? Number(e.readBigUInt64BE(8)) : e.readUInt32BE(8);
    const size = is64 ? Number(e.readBigUInt64BE(16)) : e.readUInt32BE(12);
    if (!Number.isSafeInteger(offset + size) || offset + size > src.size) {
      throw badMachO(src, at, `fat architecture ${i}: ${size} bytes at ${hex(offset)} run past the end of the file (${src.size} bytes)`);
    }
    const slice = await readSlice(src, offset, size);
    // A slice whose own header disagrees with the fat table is corrupt, not another architecture.
    if (slice.cpuType !== e.readUInt32BE(0)) {
      throw badMachO(src, offset, `slice ${i}: cputype ${hex(slice.cpuType)}, the fat table says ${hex(e.readUInt32BE(0))}`);
    }
    slices.push(slice);
  }
  return slices;
}

async function readSlice(src: ByteSource, offset: number, size: number): Promise<MachOSlice> {
  if (size < 28) throw badMachO(src, offset, `header: ${size} bytes, at least 28 needed`);
  const h = await src.read(offset, 28, 'Mach-O header');
  const le = h.readUInt32LE(0) === MH_MAGIC || h.readUInt32LE(0) === MH_MAGIC_64;
  const u32 = (b: Buffer, at: number): number => (le ? b.readUInt32LE(at) : b.readUInt32BE(at));
  const magic = u32(h, 0);
  if (magic !== MH_MAGIC && magic !== MH_MAGIC_64) throw badMachO(src, offset, 'header (no Mach-O magic)');
  const headerSize = magic === MH_MAGIC_64 ? 32 : 28;
  const ncmds = u32(h, 16);
  const sizeofcmds = u32(h, 20);
  if (sizeofcmds > MAX_SIZEOFCMDS || headerSize + sizeofcmds > size) {
    throw badMachO(src, offset + 20, `header: sizeofcmds ${sizeofcmds} does not fit in the ${size}-byte image`);
  }
  // Every load command is at least 8 bytes (cmd, cmdsize).
  if (ncmds * 8 > sizeofcmds) throw badMachO(src, offset + 16, `header: ${ncmds} load commands in ${sizeofcmds} bytes`);
  const cmds = await src.read(offset + headerSize, sizeofcmds, 'load commands');
  let uuid: Buffer | undefined;
  let at = 0;
  for (let i = 0; i < ncmds; i++) {
    if (at + 8 > sizeofcmds) throw badMachO(src, offset + headerSize + at, `load command ${i}: past sizeofcmds ${sizeofcmds}`);
    const cmd = u32(cmds, at);
    const cmdsize = u32(cmds, at + 4);
    if (cmdsize < 8 || at + cmdsize > sizeofcmds) {
      throw badMachO(src, offset + headerSize + at, `load command ${i}: size ${cmdsize} (${sizeofcmds - at} bytes left)`);
    }
    if (cmd === LC_UUID) {
      if (cmdsize < 24) throw badMachO(src, offset + headerSize + at, `LC_UUID: size ${cmdsize}, 24 needed`);
      uuid ??= Buffer.from(cmds.subarray(at + 8, at + 24));
    }
    at += cmdsize;
  }
  return { cpuType: u32(h, 4), cpuSubtype: u32(h, 8), fileType: u32(h, 12), uuid, offset };
}
