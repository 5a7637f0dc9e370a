import { SymsrvError } from '../../errors.js';
import type { ByteSource } from '../../io/source.js';

/**
 * PE/COFF image headers and CodeView debug records: just what a symbol key needs
 * (Microsoft PE format spec, "Optional Header" and "Debug Directory (Image Only)").
 * Every offset read from the file is checked against the file before it is used.
 */

/** A CodeView record of a debug directory entry of type IMAGE_DEBUG_TYPE_CODEVIEW. */
export type CodeViewRecord =
  | {
      format: 'RSDS';
      /** 16 bytes in file order (Data1-3 little-endian), as guidText() expects. */
      guid: Buffer;
      age: number;
      /** The PDB path as the linker recorded it (any OS's separators). */
      path: string;
      /** The entry is (MajorVersion 0x100, MinorVersion 0x504D): the PDB is a portable PDB. */
      portable: boolean;
    }
  | { format: 'NB10'; signature: number; age: number; path: string };

export interface PeInfo {
  /** IMAGE_FILE_HEADER.Machine (0x14C i386, 0x8664 AMD64, 0xAA64 ARM64, ...). */
  machine: number;
  /** PE32+ (optional header magic 0x20B) rather than PE32 (0x10B). */
  is64: boolean;
  /** IMAGE_FILE_HEADER.TimeDateStamp (a hash, not a date, in reproducible builds). */
  timestamp: number;
  sizeOfImage: number;
  /** CodeView records in debug directory order; empty when the image has none. */
  codeView: CodeViewRecord[];
  /** Where the last section's raw data ends: a file shorter than this was cut off. */
  rawEnd: number;
}

/** The loader's own limit (IMAGE_FILE_HEADER.NumberOfSections of a valid image). */
export const MAX_SECTIONS = 96;
/** Real images have a handful of debug entries; more is a corrupt size, not a feature. */
export const MAX_DEBUG_ENTRIES = 256;
/** A CodeView record is a 24-byte header and a path; longer than this is not a path. */
const MAX_CODEVIEW_READ = 64 * 1024;

const DEBUG_ENTRY_SIZE = 28;
const SECTION_HEADER_SIZE = 40;
const IMAGE_DEBUG_TYPE_CODEVIEW = 2;
const IMAGE_DIRECTORY_ENTRY_DEBUG = 6;
const PE32_MAGIC = 0x10b;
const PE32PLUS_MAGIC = 0x20b;

const hex = (n: number): string => `0x${n.toString(16)}`;

function badPe(src: ByteSource, offset: number, what: string): SymsrvError {
  return new SymsrvError('E_BAD_PE', `bad PE ${what} in ${src.name} at offset ${hex(offset)}`, { subject: src.name });
}

export interface PeSection {
  virtualAddress: number;
  virtualSize: number;
  sizeOfRawData: number;
  pointerToRawData: number;
}

export async function parsePe(src: ByteSource): Promise<PeInfo> {
  const dos = await src.read(0, 64, 'DOS header');
  if (dos[0] !== 0x4d || dos[1] !== 0x5a) throw badPe(src, 0, 'DOS header (no MZ magic)');
  const lfanew = dos.readUInt32LE(0x3c);
  // PE signature (4) + IMAGE_FILE_HEADER (20) must fit before anything else is read.
  if (lfanew + 24 > src.size) throw badPe(src, 0x3c, `header: e_lfanew ${hex(lfanew)} points past the end of the file (${src.size} bytes)`);

  const nt = await src.read(lfanew, 24, 'PE signature and COFF header');
  if (nt.readUInt32LE(0) !== 0x00004550) throw badPe(src, lfanew, 'signature (no "PE\\0\\0")');
  const machine = nt.readUInt16LE(4);
  const numberOfSections = nt.readUInt16LE(6);
  const timestamp = nt.readUInt32LE(8);
  const sizeOfOptionalHeader = nt.readUInt16LE(20);
  if (numberOfSections > MAX_SECTIONS) {
    throw badPe(src, lfanew + 6, `COFF header: ${numberOfSections} sections (at most ${MAX_SECTIONS})`);
  }

  const optOffset = lfanew + 24;
  // Up to SizeOfHeaders (offset 60..64) is the same in PE32 and PE32+; an image needs at least that.
  if (sizeOfOptionalHeader < 64) {
    throw badPe(src, lfanew + 20, `COFF header: SizeOfOptionalHeader ${sizeOfOptionalHeader} is too small for an image`);
  }
  const opt = await src.read(optOffset, sizeOfOptionalHeader, 'optional header');
  const magic = opt.readUInt16LE(0);
  if (magic !== PE32_MAGIC && magic !== PE32PLUS_MAGIC) throw badPe(src, optOffset, `optional header magic ${hex(magic)}`);
  const is64 = magic === PE32PLUS_MAGIC;
  const sizeOfImage = opt.readUInt32LE(56);
  const sizeOfHeaders = opt.readUInt32LE(60);

  const sectionsOffset = optOffset + sizeOfOptionalHeader;
  const sections = await readSections(src, sectionsOffset, numberOfSections);

  // The data directories follow NumberOfRvaAndSizes; a header cut short simply has fewer of them.
  const countAt = is64 ? 108 : 92;
  const dirsAt = countAt + 4;
  const debugAt = dirsAt + IMAGE_DIRECTORY_ENTRY_DEBUG * 8;
  let codeView: CodeViewRecord[] = [];
  if (debugAt + 8 <= sizeOfOptionalHeader && opt.readUInt32LE(countAt) > IMAGE_DIRECTORY_ENTRY_DEBUG) {
    const rva = opt.readUInt32LE(debugAt);
    const size = opt.readUInt32LE(debugAt + 4);
    if (rva !== 0 && size !== 0) {
      codeView = await readDebugDirectory(src, sections, sizeOfHeaders, rva, size, optOffset + debugAt);
    }
  }
  const rawEnd = sections.reduce((end, s) => (s.sizeOfRawData > 0 ? Math.max(end, s.pointerToRawData + s.sizeOfRawData) : end), sizeOfHeaders);
  return { machine, is64, timestamp, sizeOfImage, codeView, rawEnd };
}

async function readSections(src: ByteSource, offset: number, count: number): Promise<PeSection[]> {
  const table = await src.read(offset, count * SECTION_HEADER_SIZE, 'section table');
  const sections: PeSection[] = [];
  for (let i = 0; i < count; i++) {
    const at = i * SECTION_HEADER_SIZE;
    sections.push({
      virtualSize: table.readUInt32LE(at + 8),
      virtualAddress: table.readUInt32LE(at + 12),
      sizeOfRawData: table.readUInt32LE(at + 16),
      pointerToRawData: table.readUInt32LE(at + 20),
    });
  }
  return sections;
}

/**
 * Maps `length` bytes at `rva` to a file offset: through the section holding them, or as is when
 * they sit in the headers (which the loader maps at RVA 0 = file offset 0). Returns undefined when
 * no part of the file backs them (in no section, or in a section's zero-filled tail).
 */
export function rvaToOffset(sections: readonly PeSection[], sizeOfHeaders: number, rva: number, length: number): number | undefined {
  for (const s of sections) {
    const span = Math.max(s.virtualSize, s.sizeOfRawData);
    if (rva >= s.virtualAddress && rva < s.virtualAddress + span) {
      const delta = rva - s.virtualAddress;
      return delta + length <= s.sizeOfRawData ? s.pointerToRawData + delta : undefined;
    }
  }
  const firstSection = sections.reduce((min, s) => Math.min(min, s.virtualAddress), Number.POSITIVE_INFINITY);
  if (rva + length <= Math.min(sizeOfHeaders, firstSection)) return rva;
  return undefined;
}

async function readDebugDirectory(
  src: ByteSource,
  sections: readonly PeSection[],
  sizeOfHeaders: number,
  rva: number,
  size: number,
  dirEntryOffset: number,
): Promise<CodeViewRecord[]> {
  // Some linkers round the size up: whole entries only.
  const count = Math.floor(size / DEBUG_ENTRY_SIZE);
  if (count > MAX_DEBUG_ENTRIES) {
    throw badPe(src, dirEntryOffset, `debug directory: size ${hex(size)} means ${count} entries (at most ${MAX_DEBUG_ENTRIES})`);
  }
  if (count === 0) return [];
  const offset = rvaToOffset(sections, sizeOfHeaders, rva, count * DEBUG_ENTRY_SIZE);
  if (offset === undefined) {
    throw badPe(src, dirEntryOffset, `debug directory: RVA ${hex(rva)} (${hex(size)} bytes) is not backed by the file`);
  }
  const dir = await src.read(offset, count * DEBUG_ENTRY_SIZE, 'debug directory');
  const records: CodeViewRecord[] = [];
  for (let i = 0; i < count; i++) {
    const at = i * DEBUG_ENTRY_SIZE;
    if (dir.readUInt32LE(at + 12) !== IMAGE_DEBUG_TYPE_CODEVIEW) continue;
    const entryOffset = offset + at;
    const major = dir.readUInt16LE(at + 8);
    const minor = dir.readUInt16LE(at + 10);
    const sizeOfData = dir.readUInt32LE(at + 16);
    const addressOfRawData = dir.readUInt32LE(at + 20);
    const pointerToRawData = dir.readUInt32LE(at + 24);
    if (sizeOfData === 0) continue;
    // The file offset is what a file reader uses; AddressOfRawData only when there is none.
    let dataOffset: number | undefined = pointerToRawData;
    if (dataOffset === 0) dataOffset = rvaToOffset(sections, sizeOfHeaders, addressOfRawData, Math.min(sizeOfData, 24));
    if (dataOffset === undefined) {
      throw badPe(src, entryOffset, `debug entry ${i}: CodeView data at RVA ${hex(addressOfRawData)} is not backed by the file`);
    }
    const record = await readCodeView(src, dataOffset, sizeOfData, major === 0x100 && minor === 0x504d, `debug entry ${i}`);
    if (record) records.push(record);
  }
  return records;
}

async function readCodeView(
  src: ByteSource,
  offset: number,
  sizeOfData: number,
  portable: boolean,
  what: string,
): Promise<CodeViewRecord | undefined> {
  if (sizeOfData < 4) throw badPe(src, offset, `CodeView record of ${what}: ${sizeOfData} bytes`);
  const data = await src.read(offset, Math.min(sizeOfData, MAX_CODEVIEW_READ), `CodeView record of ${what}`);
  const signature = data.toString('latin1', 0, 4);
  if (signature === 'RSDS') {
    if (data.length < 24) throw badPe(src, offset, `RSDS record of ${what}: ${data.length} bytes, at least 24 needed`);
    return {
      format: 'RSDS',
      guid: Buffer.from(data.subarray(4, 20)),
      age: data.readUInt32LE(20),
      // PDB 7 records the path in UTF-8.
      path: cString(data, 24, 'utf8'),
      portable,
    };
  }
  if (signature === 'NB10') {
    if (data.length < 16) throw badPe(src, offset, `NB10 record of ${what}: ${data.length} bytes, at least 16 needed`);
    return {
      format: 'NB10',
      signature: data.readUInt32LE(8),
      age: data.readUInt32LE(12),
      // NB10 predates UTF-8 paths (ANSI code page); latin1 never fails and keeps ASCII names exact.
      path: cString(data, 16, 'latin1'),
    };
  }
  // Other CodeView forms (NB09 and older: debug info inside the image) name no PDB.
  return undefined;
}

function cString(data: Buffer, start: number, encoding: BufferEncoding): string {
  const end = data.indexOf(0, start);
  return data.toString(encoding, start, end < 0 ? data.length : end);
}
