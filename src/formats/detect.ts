import type { ByteSource } from '../io/source.js';
import { isFatHeader, isThinHeader } from './macho/macho.js';

/** The formats we can tell apart by their first bytes. */
export type FileFormat = 'pe' | 'pdb' | 'portable-pdb' | 'elf' | 'cab' | 'macho' | 'minidump' | 'unknown';

/** MSF 7.0 superblock magic (the "big MSF" every PDB 7 uses). */
export const MSF7_MAGIC = Buffer.from('Microsoft C/C++ MSF 7.00\r\n\x1aDS\0\0\0', 'latin1');

const MAGICS: ReadonlyArray<[FileFormat, Buffer]> = [
  ['pdb', MSF7_MAGIC],
  ['elf', Buffer.from('\x7fELF', 'latin1')],
  // ECMA-335 metadata root: a standalone portable PDB starts with it (a PE embeds it deeper).
  ['portable-pdb', Buffer.from('BSJB', 'latin1')],
  ['cab', Buffer.from('MSCF', 'latin1')],
  ['minidump', Buffer.from('MDMP', 'latin1')],
  ['pe', Buffer.from('MZ', 'latin1')],
];

const PROBE = MSF7_MAGIC.length;

/**
 * Names the format of `src` by its magic. Never throws for a short or empty source: a file too
 * small to hold any magic is simply 'unknown' (the caller decides whether that is an error).
 * 'pe' only means "starts with MZ": parsePe checks the rest.
 */
export async function detectFormat(src: ByteSource): Promise<FileFormat> {
  const head = await src.read(0, Math.min(PROBE, src.size), 'file magic');
  for (const [format, magic] of MAGICS) {
    if (head.length >= magic.length && head.subarray(0, magic.length).equals(magic)) return format;
  }
  // Mach-O has four thin magics (two sizes, two byte orders), and its fat magic is also a Java
  // class file's: macho.ts tells them apart by the architecture count.
  if (isThinHeader(head) || isFatHeader(head)) return 'macho';
  return 'unknown';
}
