import { SymsrvError } from '../errors.js';
import { withFile, type ByteSource } from '../io/source.js';
import { detectFormat } from '../formats/detect.js';
import { parsePe } from '../formats/pe/pe.js';
import { readIdentity } from '../keys/compute.js';
import type { Identity, SymbolKey } from '../keys/key.js';

/**
 * Checks that a file is what `key` asks for before it goes into a store. Captive portals and
 * proxies answer error pages with 200, and a misconfigured server may hand back another build:
 * neither may ever be cached under a key (that would poison every later lookup).
 */
export async function checkContent(path: string, key: SymbolKey, options: { compressed?: boolean; origin?: string } = {}): Promise<void> {
  await withFile(path, (src) => checkSource(src, key, options));
}

export async function checkSource(src: ByteSource, key: SymbolKey, options: { compressed?: boolean; origin?: string } = {}): Promise<void> {
  const from = options.origin ?? src.name;
  const invalid = (why: string): SymsrvError =>
    new SymsrvError('E_INVALID_CONTENT', `${from} is not ${key.index}: ${why}`, { subject: from });

  if (src.size === 0) throw invalid('the answer is empty');
  const head = await src.read(0, Math.min(src.size, 512), 'file start');
  if (looksLikeHtml(head)) {
    throw invalid('the server answered with an HTML page (a captive portal or a proxy error page?)');
  }
  if (options.compressed) {
    // A compressed store file is a CAB (SymStore /compress, MAKECAB).
    if (head.subarray(0, 4).toString('latin1') !== 'MSCF') throw invalid('a compressed symbol file must be a CAB (MSCF)');
    return;
  }
  const expected = key.identity;
  if (!expected) return; // a key whose form tells nothing: only the HTML check applies
  const format = await detectFormat(src);
  let actual: Identity | undefined;
  try {
    actual = format === 'unknown' || format === 'cab' ? undefined : await readIdentity(src);
  } catch (err) {
    if (err instanceof SymsrvError) throw invalid(err.message);
    throw err;
  }
  if (expected.type === 'portable-pdb' && format !== 'portable-pdb') throw invalid(`expected a portable PDB, found ${describe(format)}`);
  if (!actual) throw invalid(`expected ${wanted(expected)}, found ${describe(format)}`);
  if (!sameIdentity(expected, actual)) {
    throw invalid(`expected ${wanted(expected)}, found ${wanted(actual)}`);
  }
  if (actual.type === 'pe') {
    // The headers can be whole while the body is cut: every section's raw data must be there.
    const { rawEnd } = await parsePe(src);
    if (src.size < rawEnd) throw invalid(`cut off: its sections' data ends at ${rawEnd} bytes, the file has ${src.size}`);
  }
}

function sameIdentity(a: Identity, b: Identity): boolean {
  switch (a.type) {
    case 'pe':
      return b.type === 'pe' && a.timestamp === b.timestamp && a.sizeOfImage === b.sizeOfImage;
    case 'pdb':
      return b.type === 'pdb' && a.guid.toUpperCase() === b.guid.toUpperCase() && a.age === b.age;
    case 'pdb-nb10':
      return (b.type === 'pdb-nb10' && a.signature === b.signature && a.age === b.age);
    case 'portable-pdb':
      return b.type === 'portable-pdb' && a.guid.toUpperCase() === b.guid.toUpperCase();
    case 'elf':
      return b.type === 'elf' && a.buildId.toLowerCase() === b.buildId.toLowerCase();
    case 'macho':
      return b.type === 'macho' && a.uuids.every((u) => b.uuids.includes(u.toLowerCase()));
  }
}

function wanted(i: Identity): string {
  switch (i.type) {
    case 'pe':
      return `a PE image with timestamp ${i.timestamp.toString(16).toUpperCase().padStart(8, '0')} and size ${i.sizeOfImage.toString(16)}`;
    case 'pdb':
      return `a PDB with GUID ${i.guid} and age ${i.age}`;
    case 'pdb-nb10':
      return `a PDB 2.0 with signature ${i.signature.toString(16).toUpperCase().padStart(8, '0')} and age ${i.age}`;
    case 'portable-pdb':
      return `a portable PDB with id ${i.guid}`;
    case 'elf':
      return `an ELF file with build-id ${i.buildId}`;
    case 'macho':
      return `a Mach-O file with UUID ${i.uuids.join(', ')}`;
  }
}

function describe(format: string): string {
  return format === 'unknown' ? 'a file of unknown format' : `a ${format.toUpperCase()} file`;
}

/** An HTML page, after an optional BOM and white space. */
export function looksLikeHtml(head: Buffer): boolean {
  let text = head.toString('latin1');
  if (text.startsWith('\xef\xbb\xbf')) text = text.slice(3);
  text = text.trimStart().slice(0, 64).toLowerCase();
  return text.startsWith('<!doctype html') || text.startsWith('<html') || text.startsWith('<head') || text.startsWith('<body') || text.startsWith('<?xml') && head.includes('<html');
}
