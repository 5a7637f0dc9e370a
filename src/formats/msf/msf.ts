import { SymsrvError } from '../../errors.js';
import type { ByteSource } from '../../io/source.js';
import { MSF7_MAGIC } from '../detect.js';

/**
 * MSF 7.0 ("big MSF"), the container of every PDB 7: a file of fixed-size blocks, a superblock in
 * block 0, and a stream directory listing each stream's size and blocks. Layout as in
 * microsoft-pdb (PDB/msf/msf.cpp) and LLVM's "The MSF File Format".
 *
 * Nothing here reads the whole file: the directory and each stream are paged views that turn a
 * positioned read into reads of the few blocks it touches. Offsets are plain Numbers (block index ×
 * block size reaches 2^47), never 32-bit operations, so PDBs past 4 GB work.
 */

export const MSF_BLOCK_SIZES: readonly number[] = [512, 1024, 2048, 4096, 8192, 16384, 32768];

/** Stream size of a stream that does not exist (deleted or never written). */
export const NIL_STREAM_SIZE = 0xffffffff;

const SUPERBLOCK_SIZE = 56;
const MAX_STREAMS = 0x10000;
/** The superblock ends with an array of "block map" block indices (mpspnpn in msf.cpp). */
const BLOCK_MAP_ARRAY_AT = 52;

const hex = (n: number): string => `0x${n.toString(16)}`;

function badPdb(src: ByteSource, offset: number, what: string): SymsrvError {
  return new SymsrvError('E_BAD_PDB', `bad MSF ${what} in ${src.name} at offset ${hex(offset)}`, { subject: src.name });
}

export interface MsfSuperblock {
  blockSize: number;
  freeBlockMapBlock: number;
  numBlocks: number;
  numDirectoryBytes: number;
  /** Blocks that list the directory's blocks (BlockMapAddr is the first; more for a huge directory). */
  blockMapAddrs: number[];
}

/**
 * A read-only view of bytes spread over MSF blocks: position p is in block `blocks[p / blockSize]`.
 * Runs of consecutive block indices are read with one call to the underlying source.
 */
export class PagedSource implements ByteSource {
  constructor(
    private readonly base: ByteSource,
    private readonly blockSize: number,
    private readonly blocks: readonly number[],
    readonly size: number,
    /** What this view is, e.g. "stream 3": messages say "foo.pdb stream 3". */
    private readonly label: string,
  ) {}

  get name(): string {
    return `${this.base.name} ${this.label}`;
  }

  async read(position: number, length: number, what?: string): Promise<Buffer> {
    if (!Number.isSafeInteger(position) || !Number.isSafeInteger(length) || position < 0 || length < 0 || position + length > this.size) {
      const thing = what ? `${what} ` : '';
      throw new SymsrvError(
        'E_TRUNCATED',
        `${this.name}: ${thing}at offset ${hex(position)} (${length} bytes) runs past the end of the stream (${this.size} bytes)`,
        { subject: this.base.name },
      );
    }
    const bs = this.blockSize;
    const parts: Buffer[] = [];
    let pos = position;
    let left = length;
    while (left > 0) {
      let b = Math.floor(pos / bs);
      const within = pos - b * bs;
      const first = this.blocks[b]!;
      let run = Math.min(left, bs - within);
      // Extend over following blocks that are also consecutive in the file.
      while (run < left && this.blocks[b + 1] === this.blocks[b]! + 1) {
        b++;
        run += Math.min(left - run, bs);
      }
      parts.push(await this.base.read(first * bs + within, run, what ? `${this.label}: ${what}` : this.label));
      pos += run;
      left -= run;
    }
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts, length);
  }

  /** Where byte `position` of this view sits in the underlying file. */
  fileOffset(position: number): number {
    if (!(position >= 0 && position < this.size)) throw new RangeError(`position ${position} is outside ${this.name} (${this.size} bytes)`);
    const b = Math.floor(position / this.blockSize);
    return this.blocks[b]! * this.blockSize + (position - b * this.blockSize);
  }

  /** The underlying source belongs to whoever opened it. */
  async close(): Promise<void> {}
}

export class MsfFile {
  private constructor(
    private readonly src: ByteSource,
    readonly superblock: MsfSuperblock,
    private readonly directory: PagedSource,
    private readonly sizes: readonly number[],
    /** Directory offset of each stream's block list. */
    private readonly blockListAt: readonly number[],
  ) {}

  get blockSize(): number {
    return this.superblock.blockSize;
  }

  get streamCount(): number {
    return this.sizes.length;
  }

  /** Size in bytes of stream `i`; 0 for a nil stream. */
  streamSize(i: number): number {
    const size = this.sizeOf(i);
    return size === NIL_STREAM_SIZE ? 0 : size;
  }

  /** Stream `i` is listed but nil (size 0xFFFFFFFF): it has no blocks. */
  isNilStream(i: number): boolean {
    return this.sizeOf(i) === NIL_STREAM_SIZE;
  }

  /** A paged view of stream `i`; reads its block list from the directory now (4 bytes per block). */
  async stream(i: number): Promise<PagedSource> {
    const blocks = await this.streamBlocks(i);
    return new PagedSource(this.src, this.blockSize, blocks, this.streamSize(i), `stream ${i}`);
  }

  /** The file's block indices that hold stream `i`, in order, each checked against NumBlocks. */
  async streamBlocks(i: number): Promise<number[]> {
    const size = this.streamSize(i);
    const count = blockCount(size, this.blockSize);
    const at = this.blockListAt[i]!;
    const list = await this.directory.read(at, count * 4, `block list of stream ${i}`);
    const blocks: number[] = new Array<number>(count);
    const numBlocks = this.superblock.numBlocks;
    for (let k = 0; k < count; k++) {
      const block = list.readUInt32LE(k * 4);
      if (block >= numBlocks || block === 0) {
        throw new SymsrvError(
          'E_BAD_PDB',
          `bad MSF directory in ${this.src.name} at directory offset ${hex(at + k * 4)}: block ${k} of stream ${i} is ${block} (NumBlocks ${numBlocks}; block 0 is the superblock)`,
          { subject: this.src.name },
        );
      }
      blocks[k] = block;
    }
    return blocks;
  }

  private sizeOf(i: number): number {
    const size = this.sizes[i];
    if (size === undefined) {
      throw new SymsrvError('E_BAD_PDB', `${this.src.name} has no MSF stream ${i} (it has ${this.sizes.length})`, { subject: this.src.name });
    }
    return size;
  }

  static async open(src: ByteSource): Promise<MsfFile> {
    const superblock = await readSuperblock(src);
    const { blockSize: bs, numBlocks, numDirectoryBytes } = superblock;

    const directoryBlocks = await readDirectoryBlockList(src, superblock);
    const directory = new PagedSource(src, bs, directoryBlocks, numDirectoryBytes, 'MSF directory');
    const dirAt = directoryBlocks[0]! * bs;

    const streamCount = (await directory.read(0, 4, 'stream count')).readUInt32LE(0);
    // Stream numbers are 16-bit wherever a PDB refers to a stream (msf.cpp's SN, DBI's stream fields).
    if (streamCount > MAX_STREAMS || 4 + streamCount * 4 > numDirectoryBytes) {
      throw badPdb(src, dirAt, `directory: ${streamCount} streams (at most ${MAX_STREAMS}, 4 bytes each in ${numDirectoryBytes} directory bytes)`);
    }
    const sizeBytes = await directory.read(4, streamCount * 4, 'stream sizes');
    const sizes: number[] = new Array<number>(streamCount);
    const blockListAt: number[] = new Array<number>(streamCount);
    let at = 4 + streamCount * 4;
    for (let i = 0; i < streamCount; i++) {
      const size = sizeBytes.readUInt32LE(i * 4);
      const count = size === NIL_STREAM_SIZE ? 0 : blockCount(size, bs);
      // A stream cannot have more blocks than the file; this also keeps the sum below from overflowing.
      if (count > numBlocks) {
        throw badPdb(src, dirAt, `directory: stream ${i} has ${size} bytes, more than the file's ${numBlocks} blocks hold`);
      }
      sizes[i] = size;
      blockListAt[i] = at;
      at += count * 4;
    }
    if (at > numDirectoryBytes) {
      throw badPdb(src, dirAt, `directory: the stream block lists need ${at} bytes but the directory has ${numDirectoryBytes}`);
    }
    return new MsfFile(src, superblock, directory, sizes, blockListAt);
  }
}

function blockCount(size: number, blockSize: number): number {
  return Math.ceil(size / blockSize);
}

export async function readSuperblock(src: ByteSource): Promise<MsfSuperblock> {
  const head = await src.read(0, SUPERBLOCK_SIZE, 'MSF superblock');
  if (!head.subarray(0, MSF7_MAGIC.length).equals(MSF7_MAGIC)) throw badPdb(src, 0, 'superblock (no MSF 7.00 magic)');
  const blockSize = head.readUInt32LE(32);
  const freeBlockMapBlock = head.readUInt32LE(36);
  const numBlocks = head.readUInt32LE(40);
  const numDirectoryBytes = head.readUInt32LE(44);
  if (!MSF_BLOCK_SIZES.includes(blockSize)) throw badPdb(src, 0x20, `superblock: block size ${blockSize}`);
  if (freeBlockMapBlock !== 1 && freeBlockMapBlock !== 2) {
    throw badPdb(src, 0x24, `superblock: free block map in block ${freeBlockMapBlock} (must be 1 or 2)`);
  }
  // Every block the directory can name must exist in the file, or reads land past its end.
  const declared = numBlocks * blockSize;
  if (numBlocks < 3 || declared > src.size) {
    throw badPdb(src, 0x28, `superblock: NumBlocks ${numBlocks} × ${blockSize} = ${declared} bytes, but the file has ${src.size}`);
  }
  const numDirectoryBlocks = blockCount(numDirectoryBytes, blockSize);
  if (numDirectoryBytes < 4 || numDirectoryBlocks > numBlocks) {
    throw badPdb(src, 0x2c, `superblock: directory size ${numDirectoryBytes} bytes (the file has ${numBlocks} blocks)`);
  }
  // The indices of the directory's blocks fill `mapBlocks` blocks, whose own indices follow BlockMapAddr.
  const mapBlocks = blockCount(numDirectoryBlocks * 4, blockSize);
  if (BLOCK_MAP_ARRAY_AT + mapBlocks * 4 > blockSize) {
    throw badPdb(src, 0x2c, `superblock: directory size ${numDirectoryBytes} bytes needs ${mapBlocks} block map blocks, more than the superblock can list`);
  }
  const array = await src.read(BLOCK_MAP_ARRAY_AT, mapBlocks * 4, 'MSF block map addresses');
  const blockMapAddrs: number[] = [];
  for (let k = 0; k < mapBlocks; k++) {
    const addr = array.readUInt32LE(k * 4);
    if (addr === 0 || addr >= numBlocks) {
      throw badPdb(src, BLOCK_MAP_ARRAY_AT + k * 4, `superblock: block map address ${addr} (NumBlocks ${numBlocks})`);
    }
    blockMapAddrs.push(addr);
  }
  return { blockSize, freeBlockMapBlock, numBlocks, numDirectoryBytes, blockMapAddrs };
}

/** The indices of the directory's blocks, read from the block map block(s). */
async function readDirectoryBlockList(src: ByteSource, sb: MsfSuperblock): Promise<number[]> {
  const { blockSize: bs, numBlocks } = sb;
  const perMapBlock = bs / 4;
  let remaining = blockCount(sb.numDirectoryBytes, bs);
  const blocks: number[] = [];
  for (const mapBlock of sb.blockMapAddrs) {
    const n = Math.min(remaining, perMapBlock);
    const at = mapBlock * bs;
    const list = await src.read(at, n * 4, 'MSF directory block map');
    for (let k = 0; k < n; k++) {
      const block = list.readUInt32LE(k * 4);
      if (block === 0 || block >= numBlocks) {
        throw badPdb(src, at + k * 4, `block map: directory block ${blocks.length} is ${block} (NumBlocks ${numBlocks})`);
      }
      blocks.push(block);
    }
    remaining -= n;
  }
  return blocks;
}
