import { SymsrvError } from '../../errors.js';
import { Compression, isSplit, readBlock, readFiles, readFolders, readHeader, type CabFile } from './cab.js';
import { LzxDecoder } from './lzx.js';
import { MsZipDecoder } from './mszip.js';
import { StreamReader } from './reader.js';

/** iFolder values that mean "continued from/to another cabinet" ([MS-CAB] 2.4). */
const IFOLD_CONTINUED = 0xfffd;
/** After the file, this much of the cabinet is still read (so a connection can be reused); past it the stream is cut. */
const REST_LIMIT = 64 * 1024;

export interface ExpandOptions {
  /** The cabinet's file or URL, for messages. */
  name: string;
  /**
   * The file to take out (compared case-insensitively, without any folder part); undefined: the
   * cabinet's only file (a store's `name.pd_` holds one), an error if it holds several.
   */
  wanted?: string;
  /** Receives the expanded bytes in order; the buffers are the caller's to keep. */
  write: (chunk: Buffer) => void | Promise<void>;
}

export interface Expanded {
  /** The file's name in the cabinet. */
  name: string;
  size: number;
  compression: 'none' | 'mszip' | 'lzx';
}

/** A decoder for one folder's blocks: CFDATA in, expanded bytes out. */
type BlockDecoder = (data: Buffer, cbUncomp: number, index: number) => Buffer;

/** C0 and C1 controls in a name read from a file are shown escaped, never sent to a terminal. */
function printable(s: string): string {
  return s.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

function baseName(path: string): string {
  return path.slice(Math.max(path.lastIndexOf('\\'), path.lastIndexOf('/')) + 1);
}

/**
 * Expands the file `wanted` from a cabinet read in one forward pass from `source` (an HTTP body or
 * a file stream), handing the bytes to `write` as each 32 KiB block is decoded: memory is one
 * block plus the decoder's history (MSZIP 32 KiB, LZX its window, at most 2 MiB), whatever the
 * file's size. Stops reading once the file is complete. Every malformation is an E_BAD_CAB.
 */
export async function expandCab(source: AsyncIterable<Buffer | Uint8Array | string>, options: ExpandOptions): Promise<Expanded> {
  const { name } = options;
  const bad = (what: string): SymsrvError => new SymsrvError('E_BAD_CAB', `${name}: ${what}`, { subject: name });
  const r = new StreamReader(source[Symbol.asyncIterator](), name);
  try {
    const expanded = await expandFrom(r, options, bad);
    await r.finish(REST_LIMIT);
    return expanded;
  } finally {
    await r.close();
  }
}

async function expandFrom(r: StreamReader, options: ExpandOptions, bad: (what: string) => SymsrvError): Promise<Expanded> {
  const { name } = options;
  const header = await readHeader(r, name);
  const folders = await readFolders(r, header);
  const files = await readFiles(r, header, name);

  const wanted = options.wanted?.toLowerCase();
  const file = wanted === undefined ? (files.length === 1 ? files[0] : undefined) : files.find((f) => baseName(f.name).toLowerCase() === wanted);
  if (!file) {
    const list = files.slice(0, 5).map((f) => printable(f.name)).join(', ');
    const what = wanted === undefined ? `${files.length} files, not one` : `no file named ${options.wanted}`;
    throw new SymsrvError('E_INVALID_CONTENT', `${name} holds ${what} (it holds ${list}${files.length > 5 ? ', ...' : ''})`, {
      subject: name,
    });
  }
  if (file.iFolder >= IFOLD_CONTINUED || isSplit(header)) throw bad(`${printable(file.name)} is split across cabinets (not supported)`);
  const folder = folders[file.iFolder];
  if (!folder) throw bad(`${printable(file.name)} names folder ${file.iFolder}, but the cabinet has ${folders.length}`);

  const type = folder.typeCompress & 0x000f;
  let decode: BlockDecoder;
  let compression: Expanded['compression'];
  if (type === Compression.None) {
    compression = 'none';
    decode = (data, cbUncomp, index) => {
      if (data.length !== cbUncomp) throw bad(`stored data block ${index} holds ${data.length} bytes but declares ${cbUncomp}`);
      return Buffer.from(data);
    };
  } else if (type === Compression.MsZip) {
    compression = 'mszip';
    const z = new MsZipDecoder(name);
    decode = (data, cbUncomp, index) => z.decode(data, cbUncomp, index);
  } else if (type === Compression.Lzx) {
    compression = 'lzx';
    const lzx = new LzxDecoder((folder.typeCompress >>> 8) & 0x1f, name);
    decode = (data, cbUncomp) => lzx.decodeFrame(data, cbUncomp);
  } else if (type === Compression.Quantum) {
    throw new SymsrvError('E_COMPRESSED_UNSUPPORTED', `${name} uses Quantum compression, which symsrv does not expand (SymStore never writes it)`, {
      subject: name,
    });
  } else {
    throw bad(`unknown compression type ${type}`);
  }

  await r.skipTo(folder.coffCabStart, 'the first data block (CFDATA)');
  const size = await copyRange(file, folder.cCFData, async (index) => {
    const block = await readBlock(r, header, name, index);
    return decode(block.data, block.cbUncomp, index);
  }, options.write, bad);
  return { name: file.name, size, compression };
}

/** Decodes the folder's blocks in order and writes the part that is `file`; stops at its end. */
async function copyRange(
  file: CabFile,
  blocks: number,
  next: (index: number) => Promise<Buffer>,
  write: ExpandOptions['write'],
  bad: (what: string) => SymsrvError,
): Promise<number> {
  const start = file.uoffFolderStart;
  const end = start + file.cbFile;
  let at = 0; // offset of the next block in the folder's expanded stream
  for (let i = 0; i < blocks && at < end; i++) {
    const out = await next(i);
    const from = Math.max(start - at, 0);
    const to = Math.min(end - at, out.length);
    if (to > from) await write(from === 0 && to === out.length ? out : out.subarray(from, to));
    at += out.length;
  }
  if (at < end) throw bad(`the data ends after ${Math.max(at - start, 0)} of the ${file.cbFile} bytes of ${printable(file.name)}`);
  return file.cbFile;
}
