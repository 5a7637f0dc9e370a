import { open, type FileHandle } from 'node:fs/promises';
import { deflateRawSync } from 'node:zlib';
import { SymsrvError } from '../../errors.js';
import { blockChecksum } from './checksum.js';

/**
 * Writes a one-file Microsoft Cabinet with MSZIP compression: what `symstore add /compress`
 * (MAKECAB) leaves in a store as `name.pd_`. Layout from [MS-CAB] 2.1-2.5: CFHEADER, one
 * CFFOLDER, one CFFILE, then CFDATA blocks of at most 32 KiB of input, each `CK` + a raw deflate
 * stream that may refer back into the previous block's 32 KiB (the MSZIP rule, [MS-MCI] 2.1).
 *
 * Streamed: the source is read 32 KiB at a time and each block written at once, so memory stays
 * flat whatever the file's size; the header, whose sizes are known only at the end, is written
 * last at offset 0. Deflate is Node's zlib (a dictionary carries the history across blocks).
 */

/** MSZIP's block size: each CFDATA expands to at most 32 KiB ([MS-MCI] 2.1). */
const BLOCK = 32 * 1024;
/** One folder holds at most 65535 CFDATA blocks (cCFData is 16 bits): a little under 2 GiB. */
export const MAX_CABINET_INPUT = 0xffff * BLOCK;

const HEADER_SIZE = 36;
const FOLDER_SIZE = 8;
const TYPE_MSZIP = 1;
/** CFFILE attribs: _A_ARCH, and _A_NAME_IS_UTF when the name is not ASCII ([MS-CAB] 2.4). */
const ATTR_ARCH = 0x20;
const ATTR_NAME_IS_UTF = 0x80;

/**
 * Compresses the file at `sourcePath` into a cabinet at `destPath` holding it as `name`, with
 * `mtime` as its date. The caller writes `destPath` as a temp file and renames it (store/atomic).
 */
export async function writeCabinet(sourcePath: string, destPath: string, name: string, mtime: Date): Promise<void> {
  const src = await open(sourcePath, 'r');
  let dst: FileHandle | undefined;
  try {
    const size = (await src.stat()).size;
    if (size > MAX_CABINET_INPUT) {
      throw new SymsrvError('E_USAGE', `${sourcePath} is ${size} bytes: too large for one cabinet folder (at most ${MAX_CABINET_INPUT})`, { subject: sourcePath });
    }
    const utf = !/^[\x20-\x7e]*$/.test(name);
    const nameBytes = Buffer.from(name + '\0', utf ? 'utf8' : 'latin1');
    const fileEntry = Buffer.alloc(16);
    fileEntry.writeUInt32LE(size, 0); // cbFile
    fileEntry.writeUInt32LE(0, 4); // uoffFolderStart
    fileEntry.writeUInt16LE(0, 8); // iFolder
    fileEntry.writeUInt16LE(dosDate(mtime), 10);
    fileEntry.writeUInt16LE(dosTime(mtime), 12);
    fileEntry.writeUInt16LE(ATTR_ARCH | (utf ? ATTR_NAME_IS_UTF : 0), 14);
    const dataStart = HEADER_SIZE + FOLDER_SIZE + fileEntry.length + nameBytes.length;

    dst = await open(destPath, 'w');
    let at = dataStart;
    let blocks = 0;
    const input = Buffer.alloc(BLOCK);
    let history: Buffer | undefined;
    for (let offset = 0; offset < size || blocks === 0; ) {
      const { bytesRead } = await src.read(input, 0, Math.min(BLOCK, size - offset), offset);
      if (bytesRead === 0 && size > 0) {
        throw new SymsrvError('E_IO', `${sourcePath} became shorter while it was compressed`, { subject: sourcePath });
      }
      const chunk = input.subarray(0, bytesRead);
      const packed = deflateRawSync(chunk, history ? { dictionary: history } : {});
      const data = Buffer.concat([Buffer.from('CK', 'latin1'), packed]);
      const head = Buffer.alloc(8);
      head.writeUInt16LE(data.length, 4); // cbData
      head.writeUInt16LE(chunk.length, 6); // cbUncomp
      head.writeUInt32LE(blockChecksum(head.subarray(4, 8), data), 0); // over the data, then cbData and cbUncomp
      await dst.write(Buffer.concat([head, data]), 0, 8 + data.length, at);
      at += 8 + data.length;
      blocks++;
      offset += bytesRead;
      history = Buffer.from(chunk); // `input` is reused: keep a copy as the next block's dictionary
      if (size === 0) break;
    }

    const header = Buffer.alloc(HEADER_SIZE + FOLDER_SIZE);
    header.write('MSCF', 0, 'latin1');
    header.writeUInt32LE(at, 8); // cbCabinet
    header.writeUInt32LE(HEADER_SIZE + FOLDER_SIZE, 16); // coffFiles
    header.writeUInt8(3, 24); // versionMinor
    header.writeUInt8(1, 25); // versionMajor
    header.writeUInt16LE(1, 26); // cFolders
    header.writeUInt16LE(1, 28); // cFiles
    header.writeUInt16LE(0, 30); // flags: no reserve, no previous/next cabinet
    header.writeUInt16LE(0, 32); // setID
    header.writeUInt16LE(0, 34); // iCabinet
    header.writeUInt32LE(dataStart, HEADER_SIZE); // CFFOLDER.coffCabStart
    header.writeUInt16LE(blocks, HEADER_SIZE + 4); // cCFData
    header.writeUInt16LE(TYPE_MSZIP, HEADER_SIZE + 6); // typeCompress
    await dst.write(Buffer.concat([header, fileEntry, nameBytes]), 0, dataStart, 0);
    await dst.sync();
  } finally {
    await src.close();
    await dst?.close();
  }
}

/** MS-DOS date: bits 15-9 year since 1980, 8-5 month, 4-0 day (local time, as MAKECAB writes). */
function dosDate(d: Date): number {
  const year = Math.min(Math.max(d.getFullYear(), 1980), 2107);
  return ((year - 1980) << 9) | ((d.getMonth() + 1) << 5) | d.getDate();
}

/** MS-DOS time: bits 15-11 hours, 10-5 minutes, 4-0 seconds / 2. */
function dosTime(d: Date): number {
  return (d.getHours() << 11) | (d.getMinutes() << 5) | (d.getSeconds() >>> 1);
}
