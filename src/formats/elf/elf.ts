import { SymsrvError } from '../../errors.js';
import type { ByteSource } from '../../io/source.js';

/**
 * ELF headers, the GNU build-id note and whether DWARF is present: what a symbol key needs
 * (System V gABI "ELF Header", "Sections", "Program Header", "Note Section").
 * ELF32 and ELF64, both byte orders. Counts are bounded and every offset is checked.
 */

export interface ElfInfo {
  class: 32 | 64;
  endian: 'little' | 'big';
  /** e_machine (62 x86-64, 40 ARM, 183 AArch64, ...). */
  machine: number;
  /** e_type (1 REL, 2 EXEC, 3 DYN, 4 CORE). */
  type: number;
  /** The descriptor of the first NT_GNU_BUILD_ID note ("GNU\0", type 3), raw bytes. */
  buildId?: Buffer;
  /** A section named .debug_info or .zdebug_info exists: this is a debug (symbol) file. */
  hasDebugInfo: boolean;
}

/** More section headers than this is a corrupt count (a 16 MB header table at 64 bytes each). */
export const MAX_ELF_SECTIONS = 1 << 18;
/** e_phnum is 16 bits, but PN_XNUM moves it into section 0; bound it the same way. */
export const MAX_ELF_SEGMENTS = 1 << 16;
/** Header entries are 40-64 bytes; the gABI lets them grow, but not past this. */
const MAX_ENTRY_SIZE = 256;
/** Build-ids are 16 (md5, uuid) or 20 (sha1) bytes, or a user's --build-id=0x...; a kilobyte is not one. */
const MAX_BUILD_ID = 1024;
/** The section-name table is read whole to find .debug_info; beyond this it is not a name table. */
const MAX_SHSTRTAB = 16 * 1024 * 1024;

const PT_NOTE = 4;
const SHT_NOTE = 7;
const SHT_NOBITS = 8;
const NT_GNU_BUILD_ID = 3;
const SHN_XINDEX = 0xffff;
const PN_XNUM = 0xffff;

const hex = (n: number): string => `0x${n.toString(16)}`;

function badElf(src: ByteSource, offset: number, what: string): SymsrvError {
  return new SymsrvError('E_BAD_ELF', `bad ELF ${what} in ${src.name} at offset ${hex(offset)}`, { subject: src.name });
}

/** Field readers for one class and byte order; 64-bit values past 2^53 are refused, not rounded. */
class Fields {
  constructor(
    readonly src: ByteSource,
    readonly is64: boolean,
    readonly le: boolean,
  ) {}
  u16(b: Buffer, at: number): number {
    return this.le ? b.readUInt16LE(at) : b.readUInt16BE(at);
  }
  u32(b: Buffer, at: number): number {
    return this.le ? b.readUInt32LE(at) : b.readUInt32BE(at);
  }
  /** An address-sized field (u32 in ELF32, u64 in ELF64); `fileOffset` is for the message. */
  addr(b: Buffer, at: number, fileOffset: number, what: string): number {
    if (!this.is64) return this.u32(b, at);
    const v = this.le ? b.readBigUInt64LE(at) : b.readBigUInt64BE(at);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw badElf(this.src, fileOffset + at, `${what} ${hex(Number(v))} is beyond any file`);
    return Number(v);
  }
}

interface SectionHeader {
  index: number;
  name: number;
  type: number;
  offset: number;
  size: number;
  link: number;
  info: number;
  addralign: number;
}

export async function parseElf(src: ByteSource): Promise<ElfInfo> {
  const ident = await src.read(0, 16, 'ELF identification');
  if (ident.readUInt32BE(0) !== 0x7f454c46) throw badElf(src, 0, 'identification (no \\x7fELF magic)');
  const klass = ident[4];
  const data = ident[5];
  if (klass !== 1 && klass !== 2) throw badElf(src, 4, `identification: EI_CLASS ${klass}`);
  if (data !== 1 && data !== 2) throw badElf(src, 5, `identification: EI_DATA ${data}`);
  const f = new Fields(src, klass === 2, data === 1);
  const is64 = f.is64;

  const eh = await src.read(0, is64 ? 64 : 52, 'ELF header');
  const type = f.u16(eh, 16);
  const machine = f.u16(eh, 18);
  const phoff = f.addr(eh, is64 ? 32 : 28, 0, 'e_phoff');
  const shoff = f.addr(eh, is64 ? 40 : 32, 0, 'e_shoff');
  const o = is64 ? 54 : 42; // e_phentsize, then e_phnum, e_shentsize, e_shnum, e_shstrndx
  const phentsize = f.u16(eh, o);
  let phnum = f.u16(eh, o + 2);
  const shentsize = f.u16(eh, o + 4);
  let shnum = f.u16(eh, o + 6);
  let shstrndx = f.u16(eh, o + 8);

  // Extended numbering: counts that do not fit 16 bits live in section header 0.
  let sections: SectionHeader[] = [];
  if (shoff !== 0) {
    const minShent = is64 ? 64 : 40;
    if (shentsize < minShent || shentsize > MAX_ENTRY_SIZE) {
      throw badElf(src, o + 4, `header: e_shentsize ${shentsize} (${minShent} to ${MAX_ENTRY_SIZE})`);
    }
    const first = await readSectionHeaders(src, f, shoff, shentsize, 0, 1);
    const s0 = first[0]!;
    if (shnum === 0) shnum = s0.size;
    if (shstrndx === SHN_XINDEX) shstrndx = s0.link;
    if (phnum === PN_XNUM) phnum = s0.info;
    if (shnum > MAX_ELF_SECTIONS) throw badElf(src, shoff, `section header table: ${shnum} sections (at most ${MAX_ELF_SECTIONS})`);
    sections = await readSectionHeaders(src, f, shoff, shentsize, 0, shnum);
  }

  const segments = await readNoteSegments(src, f, phoff, phentsize, phnum, o);

  const names = await readSectionNames(src, sections, shstrndx);
  const hasDebugInfo = sections.some((s) => {
    const n = nameAt(names, s.name);
    return n === '.debug_info' || n === '.zdebug_info';
  });

  // Sections first: they are what the linker wrote, whatever their name (".build-id" too). A debug
  // file made by objcopy --only-keep-debug keeps note sections but may keep program headers whose
  // contents are gone, so segments are read only when no section gave a build-id (in practice: a
  // file whose section table was stripped).
  let buildId: Buffer | undefined;
  for (const s of sections) {
    if (s.type !== SHT_NOTE || s.size === 0) continue;
    buildId = await findBuildId(f, s.offset, s.size, s.addralign === 8 ? 8 : 4, `note section ${s.index}`);
    if (buildId) break;
  }
  for (const seg of segments) {
    if (buildId) break;
    buildId = await findBuildId(f, seg.offset, seg.size, seg.align === 8 ? 8 : 4, `PT_NOTE segment ${seg.index}`);
  }
  const info: ElfInfo = { class: is64 ? 64 : 32, endian: f.le ? 'little' : 'big', machine, type, hasDebugInfo };
  if (buildId) info.buildId = buildId;
  return info;
}

async function readSectionHeaders(
  src: ByteSource,
  f: Fields,
  shoff: number,
  shentsize: number,
  from: number,
  count: number,
): Promise<SectionHeader[]> {
  const table = await src.read(shoff + from * shentsize, count * shentsize, 'section header table');
  const out: SectionHeader[] = [];
  for (let i = 0; i < count; i++) {
    const at = i * shentsize;
    const base = shoff + from * shentsize;
    if (f.is64) {
      out.push({
        index: from + i,
        name: f.u32(table, at),
        type: f.u32(table, at + 4),
        offset: f.addr(table, at + 24, base, 'sh_offset'),
        size: f.addr(table, at + 32, base, 'sh_size'),
        link: f.u32(table, at + 40),
        info: f.u32(table, at + 44),
        addralign: f.addr(table, at + 48, base, 'sh_addralign'),
      });
    } else {
      out.push({
        index: from + i,
        name: f.u32(table, at),
        type: f.u32(table, at + 4),
        offset: f.u32(table, at + 16),
        size: f.u32(table, at + 20),
        link: f.u32(table, at + 24),
        info: f.u32(table, at + 28),
        addralign: f.u32(table, at + 32),
      });
    }
  }
  return out;
}

interface NoteSegment {
  index: number;
  offset: number;
  size: number;
  align: number;
}

async function readNoteSegments(
  src: ByteSource,
  f: Fields,
  phoff: number,
  phentsize: number,
  phnum: number,
  phentsizeAt: number,
): Promise<NoteSegment[]> {
  if (phnum === 0) return [];
  const minPhent = f.is64 ? 56 : 32;
  if (phentsize < minPhent || phentsize > MAX_ENTRY_SIZE) {
    throw badElf(src, phentsizeAt, `header: e_phentsize ${phentsize} (${minPhent} to ${MAX_ENTRY_SIZE})`);
  }
  if (phnum > MAX_ELF_SEGMENTS) throw badElf(src, phoff, `program header table: ${phnum} entries (at most ${MAX_ELF_SEGMENTS})`);
  const table = await src.read(phoff, phnum * phentsize, 'program header table');
  const notes: NoteSegment[] = [];
  for (let i = 0; i < phnum; i++) {
    const at = i * phentsize;
    if (f.u32(table, at) !== PT_NOTE) continue;
    const base = phoff;
    const seg = f.is64
      ? {
          index: i,
          offset: f.addr(table, at + 8, base, 'p_offset'),
          size: f.addr(table, at + 32, base, 'p_filesz'),
          align: f.addr(table, at + 48, base, 'p_align'),
        }
      : { index: i, offset: f.u32(table, at + 4), size: f.u32(table, at + 16), align: f.u32(table, at + 28) };
    if (seg.size > 0) notes.push(seg);
  }
  return notes;
}

async function readSectionNames(src: ByteSource, sections: readonly SectionHeader[], shstrndx: number): Promise<Buffer | undefined> {
  if (shstrndx === 0) return undefined;
  const strtab = sections[shstrndx];
  if (!strtab) throw badElf(src, 0, `header: section name table index ${shstrndx} (${sections.length} sections)`);
  if (strtab.type === SHT_NOBITS || strtab.size === 0) return undefined;
  if (strtab.size > MAX_SHSTRTAB) throw badElf(src, strtab.offset, `section name table: ${strtab.size} bytes`);
  return src.read(strtab.offset, strtab.size, 'section name table');
}

function nameAt(names: Buffer | undefined, at: number): string | undefined {
  if (!names || at >= names.length) return undefined;
  const end = names.indexOf(0, at);
  return names.toString('latin1', at, end < 0 ? names.length : end);
}

const alignUp = (n: number, a: number): number => Math.ceil(n / a) * a;

/**
 * Walks the notes of one section or segment and returns the GNU build-id, if there is one. Each
 * note advances by at least its 12-byte header, so the walk ends; a note whose name or descriptor
 * claims more bytes than its container holds is an error, not a reason to read elsewhere.
 */
async function findBuildId(f: Fields, offset: number, size: number, align: number, where: string): Promise<Buffer | undefined> {
  const src = f.src;
  let pos = 0;
  // Fewer than 12 bytes left is padding, not a note.
  while (pos + 12 <= size) {
    const at = offset + pos;
    const h = await src.read(at, 12, `note header in ${where}`);
    const namesz = f.u32(h, 0);
    const descsz = f.u32(h, 4);
    const type = f.u32(h, 8);
    // Offsets are aligned from the container's start: with 8-byte alignment (64-bit
    // .note.gnu.property) a 4-byte name ends at 16, already aligned, not at 12 + 8.
    const descAt = alignUp(pos + 12 + namesz, align);
    if (descAt + descsz > size) {
      throw badElf(src, at, `note in ${where}: name (${namesz} bytes) and descriptor (${descsz} bytes) run past its end (${size} bytes)`);
    }
    if (type === NT_GNU_BUILD_ID && namesz === 4 && descsz > 0) {
      const name = await src.read(at + 12, 4, `note name in ${where}`);
      if (name.toString('latin1') === 'GNU\0') {
        if (descsz > MAX_BUILD_ID) throw badElf(src, at, `build-id note in ${where}: ${descsz} bytes`);
        return Buffer.from(await src.read(offset + descAt, descsz, `build-id in ${where}`));
      }
    }
    pos = alignUp(descAt + descsz, align);
  }
  return undefined;
}

