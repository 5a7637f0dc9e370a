import { SymsrvError } from '../../errors.js';
import { blockChecksum } from './checksum.js';
import type { StreamReader } from './reader.js';

/**
 * Microsoft Cabinet structures ([MS-CAB] 2.1-2.6): CFHEADER, CFFOLDER, CFFILE, CFDATA, read in
 * one forward pass so a cabinet can be expanded as it streams in. Parsing only: no policy.
 */

export const CAB_MAGIC = 'MSCF';
const FLAG_PREV_CABINET = 0x0001;
const FLAG_NEXT_CABINET = 0x0002;
const FLAG_RESERVE_PRESENT = 0x0004;
/** [MS-CAB]: names and the previous/next cabinet strings are at most 255 bytes. */
const MAX_NAME = 256;
/** [MS-CAB]: a CFDATA holds at most 32 KiB expanded; compressed, at most that plus LZX's worst case (6 KiB). */
export const MAX_BLOCK_UNCOMPRESSED = 0x8000;
const MAX_BLOCK_COMPRESSED = 0x8000 + 6144;

export const enum Compression {
  None = 0,
  MsZip = 1,
  Quantum = 2,
  Lzx = 3,
}

export interface CabHeader {
  cbCabinet: number;
  coffFiles: number;
  cFolders: number;
  cFiles: number;
  flags: number;
  /** Bytes reserved per CFFOLDER and per CFDATA (RESERVE_PRESENT). */
  folderReserve: number;
  dataReserve: number;
}

export interface CabFolder {
  /** Offset of the folder's first CFDATA. */
  coffCabStart: number;
  cCFData: number;
  /** Low 4 bits: Compression; for LZX, bits 8-12 are the window size in bits (15-21). */
  typeCompress: number;
}

export interface CabFile {
  /** Expanded size. */
  cbFile: number;
  /** Offset of the file in its folder's expanded stream. */
  uoffFolderStart: number;
  iFolder: number;
  name: string;
}

export interface CabBlock {
  data: Buffer;
  /** Expanded size (at most 32 KiB). */
  cbUncomp: number;
}

function bad(name: string, what: string): SymsrvError {
  return new SymsrvError('E_BAD_CAB', `${name}: ${what}`, { subject: name });
}

/** CFHEADER and its optional reserve and cabinet-set strings. */
export async function readHeader(r: StreamReader, name: string): Promise<CabHeader> {
  const h = await r.read(36, 'the cabinet header (CFHEADER)');
  if (h.toString('latin1', 0, 4) !== CAB_MAGIC) throw bad(name, 'not a cabinet (no MSCF signature)');
  const header: CabHeader = {
    cbCabinet: h.readUInt32LE(8),
    coffFiles: h.readUInt32LE(16),
    cFolders: h.readUInt16LE(26),
    cFiles: h.readUInt16LE(28),
    flags: h.readUInt16LE(30),
    folderReserve: 0,
    dataReserve: 0,
  };
  // The version (1.3) is not checked: libmspack does not either, and cabinets in the wild vary.
  if (header.cFolders === 0) throw bad(name, 'the cabinet has no folders');
  if (header.cFiles === 0) throw bad(name, 'the cabinet has no files');
  if (header.flags & FLAG_RESERVE_PRESENT) {
    const res = await r.read(4, 'the header reserve sizes');
    const headerReserve = res.readUInt16LE(0);
    header.folderReserve = res[2]!;
    header.dataReserve = res[3]!;
    if (headerReserve > 60000) throw bad(name, `header reserve of ${headerReserve} bytes (at most 60000)`);
    await r.skipTo(r.position + headerReserve, 'the header reserve');
  }
  // A file split across cabinets cannot be expanded from one store file; the strings are skipped.
  if (header.flags & FLAG_PREV_CABINET) {
    await r.cString(MAX_NAME, 'the previous cabinet name');
    await r.cString(MAX_NAME, 'the previous disk name');
  }
  if (header.flags & FLAG_NEXT_CABINET) {
    await r.cString(MAX_NAME, 'the next cabinet name');
    await r.cString(MAX_NAME, 'the next disk name');
  }
  return header;
}

export async function readFolders(r: StreamReader, header: CabHeader): Promise<CabFolder[]> {
  const folders: CabFolder[] = [];
  for (let i = 0; i < header.cFolders; i++) {
    const f = await r.read(8, `folder entry ${i} (CFFOLDER)`);
    folders.push({ coffCabStart: f.readUInt32LE(0), cCFData: f.readUInt16LE(4), typeCompress: f.readUInt16LE(6) });
    await r.skipTo(r.position + header.folderReserve, 'a folder reserve');
  }
  return folders;
}

export async function readFiles(r: StreamReader, header: CabHeader, name: string): Promise<CabFile[]> {
  await r.skipTo(header.coffFiles, 'the file entries (CFFILE)');
  const files: CabFile[] = [];
  for (let i = 0; i < header.cFiles; i++) {
    const f = await r.read(16, `file entry ${i} (CFFILE)`);
    const raw = await r.cString(MAX_NAME, `the name of file entry ${i}`);
    const attribs = f.readUInt16LE(14);
    // _A_NAME_IS_UTF (0x80): the name is UTF-8; otherwise the cabinet's code page (ASCII in practice).
    const fileName = raw.toString(attribs & 0x80 ? 'utf8' : 'latin1');
    if (fileName === '') throw bad(name, `file entry ${i} has an empty name`);
    const iFolder = f.readUInt16LE(8);
    // 0xFFFD-0xFFFF: continued from/to another cabinet (refused when expanding). libmspack refuses
    // a cabinet with any file in a folder that does not exist; so does this.
    if (iFolder >= header.cFolders && iFolder < 0xfffd) {
      throw bad(name, `file entry ${i} names folder ${iFolder}, but the cabinet has ${header.cFolders}`);
    }
    files.push({ cbFile: f.readUInt32LE(0), uoffFolderStart: f.readUInt32LE(4), iFolder, name: fileName });
  }
  return files;
}

/**
 * Reads the next CFDATA: checks its sizes against the format's bounds and its checksum when one is
 * stored (non-zero), as libmspack does. The data may share memory with the reader's buffer.
 */
export async function readBlock(r: StreamReader, header: CabHeader, name: string, index: number): Promise<CabBlock> {
  const at = r.position;
  const h = await r.read(8, `data block ${index} (CFDATA)`);
  const csum = h.readUInt32LE(0);
  const cbData = h.readUInt16LE(4);
  const cbUncomp = h.readUInt16LE(6);
  const sizes = Buffer.from(h.subarray(4, 8));
  if (cbData > MAX_BLOCK_COMPRESSED || cbUncomp > MAX_BLOCK_UNCOMPRESSED) {
    throw bad(name, `data block ${index} at 0x${at.toString(16)} declares ${cbData} bytes expanding to ${cbUncomp} (at most ${MAX_BLOCK_COMPRESSED} and ${MAX_BLOCK_UNCOMPRESSED})`);
  }
  if (cbUncomp === 0) throw bad(name, `data block ${index} continues in another cabinet (split cabinets are not supported)`);
  await r.skipTo(r.position + header.dataReserve, 'a data block reserve');
  const data = await r.read(cbData, `data block ${index}`);
  if (csum !== 0 && blockChecksum(sizes, data) !== csum) {
    throw bad(name, `data block ${index} at 0x${at.toString(16)} fails its checksum`);
  }
  return { data, cbUncomp };
}

/** The CAB flags that mean a file may continue in another cabinet of a set. */
export function isSplit(header: CabHeader): boolean {
  return (header.flags & (FLAG_PREV_CABINET | FLAG_NEXT_CABINET)) !== 0;
}
