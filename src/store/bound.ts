import { Transform, type TransformCallback } from 'node:stream';
import { SymsrvError } from '../errors.js';
import { MSF7_MAGIC } from '../formats/detect.js';
import type { SymbolKey } from '../keys/key.js';

/**
 * Bounds on what a download may write: a hostile or broken server can answer 200 with no
 * Content-Length and a body that never ends, and every byte of it would go to the disk.
 */

/**
 * The default most a single download may write. PDBs are the largest symbol files: an MSF with
 * the default 4 KiB pages ends at 4 GiB, with `/PDBPAGESIZE:8192` at 8 GiB; the largest real ones
 * (browsers, game engines) are a few GiB. 16 GiB leaves room for larger pages and big ELF debug
 * files, and still stops an endless body long before it fills a disk of today.
 */
export const DEFAULT_MAX_SIZE = 16 * 1024 ** 3;

/**
 * What overlay a PE file may carry past its image: an Authenticode signature (KiBs to a few MiB),
 * or COFF symbols of a MinGW build. Section data is at most SizeOfImage (file alignment is not
 * larger than section alignment), so SizeOfImage + this is generous for any real image.
 */
const PE_OVERLAY = 64 * 1024 * 1024;

/** The most `key`'s file may hold: what the key allows where it says (a PE), never more than `max`. */
export function sizeBound(key: SymbolKey, max: number): number {
  const id = key.identity;
  if (id?.type === 'pe') return Math.min(max, id.sizeOfImage * 2 + PE_OVERLAY);
  return max;
}

const PDB2_MAGIC = Buffer.from('Microsoft C/C++ program database 2.00\r\n', 'latin1');

/** Bytes needed to tell the formats apart (the MSF 7 magic is the longest). */
export const MAGIC_BYTES = MSF7_MAGIC.length;

/**
 * Whether the first bytes can start the file `key` asks for: MSF (PDB 7) or the PDB 2.0 header,
 * MZ, ELF, BSJB (portable PDB), or MSCF (a compressed store file). A key whose form names no
 * format (an unknown extension) is not checked here: its content is unknown, the size bound holds.
 */
export function plausibleStart(head: Buffer, key: SymbolKey, compressed: boolean): boolean {
  const starts = (m: Buffer | string): boolean => {
    const b = typeof m === 'string' ? Buffer.from(m, 'latin1') : m;
    return head.length >= b.length ? head.subarray(0, b.length).equals(b) : b.subarray(0, head.length).equals(head);
  };
  if (compressed) return starts('MSCF');
  switch (key.identity?.type) {
    case undefined:
      return true;
    case 'pe':
      return starts('MZ');
    case 'pdb':
      return starts(MSF7_MAGIC);
    case 'pdb-nb10':
      return starts(PDB2_MAGIC);
    case 'portable-pdb':
      return starts('BSJB');
    case 'elf':
      return starts('\x7fELF');
    case 'macho':
      // Thin Mach-O in either byte order (MH_MAGIC, MH_MAGIC_64, swapped) or a fat file (FAT_MAGIC, FAT_MAGIC_64).
      return MACHO_MAGICS.some((m) => starts(Buffer.from(m, 'hex')));
  }
}

const MACHO_MAGICS = ['feedface', 'feedfacf', 'cefaedfe', 'cffaedfe', 'cafebabe', 'cafebabf'];

/**
 * A pass-through stage that stops a body as soon as its first bytes cannot be the file asked for,
 * or as soon as it passes `limit` bytes, before either reaches the disk.
 */
export class BodyGuard extends Transform {
  private seen = 0;
  private head: Buffer[] = [];
  private checked = false;

  constructor(
    private readonly key: SymbolKey,
    private readonly compressed: boolean,
    private readonly limit: number,
    private readonly where: string,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.seen += chunk.length;
    if (this.seen > this.limit) return done(tooLarge(this.where, this.key, this.limit));
    if (this.checked) return done(null, chunk);
    this.head.push(chunk);
    const head = Buffer.concat(this.head);
    if (!plausibleStart(head, this.key, this.compressed)) return done(notTheFile(this.where, this.key));
    if (head.length < MAGIC_BYTES) return done(); // hold it until the magic is whole
    this.checked = true;
    this.head = [];
    done(null, head);
  }

  override _flush(done: TransformCallback): void {
    // A body shorter than a magic: the content check after the download reports what it is.
    done(null, this.checked ? undefined : Buffer.concat(this.head));
  }
}

export function tooLarge(where: string, key: SymbolKey, limit: number): SymsrvError {
  return new SymsrvError('E_INVALID_CONTENT', `GET ${where}: more than ${limit} bytes, more than ${key.index} can be (stopped)`, {
    subject: where,
  });
}

export function notTheFile(where: string, key: SymbolKey): SymsrvError {
  return new SymsrvError('E_INVALID_CONTENT', `${where} is not ${key.index}: its first bytes are not those of such a file (stopped)`, {
    subject: where,
  });
}
