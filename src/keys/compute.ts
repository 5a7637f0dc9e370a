import { SymsrvError } from '../errors.js';
import { withFile, type ByteSource } from '../io/source.js';
import { detectFormat } from '../formats/detect.js';
import { parsePe } from '../formats/pe/pe.js';
import { readPdbIdentity } from '../formats/pdb/pdb.js';
import { parseElf } from '../formats/elf/elf.js';
import { MH_DSYM, parseMachO } from '../formats/macho/macho.js';
import { parseMinidump } from '../formats/minidump/minidump.js';
import { dumpModuleKeys, type DumpModuleKeys } from './minidump.js';
import { withExpanded } from './compressed.js';
import {
  baseName,
  elfDebugKey,
  elfKey,
  guidText,
  machoDsymKey,
  machoKey,
  pdbKey,
  pdbNb10Key,
  peKey,
  portablePdbKey,
  ssqpBuildId,
  type Identity,
  type KeyKind,
  type SymbolKey,
} from './key.js';

/**
 * Keys of a file on disk: detect its format, parse it, and hand the parsed records to the pure
 * builders of key.ts. The rules, with worked examples from the fixtures, are in docs/keys.md.
 */

export interface ComputedKey {
  /** The file the key was computed from (as given by the caller). */
  file: string;
  kind: KeyKind;
  key: SymbolKey;
  /** For a key from a crash dump: the module it belongs to, as the dump recorded its path. */
  module?: string;
}

/** Every key of the file at `path`: [] for an ELF file without a build-id. */
export async function computeKeys(path: string): Promise<ComputedKey[]> {
  return withFile(path, (src) => computeKeysFromSource(src, path));
}

/**
 * Every key of `src`; `fileName` gives the key's file name (its base name is used) and the
 * `file` of each result.
 */
export async function computeKeysFromSource(src: ByteSource, fileName: string): Promise<ComputedKey[]> {
  return keysOf(src, fileName, false);
}

async function keysOf(src: ByteSource, fileName: string, inCabinet: boolean): Promise<ComputedKey[]> {
  const name = baseName(fileName);
  const out: ComputedKey[] = [];
  const add = (kind: KeyKind, key: SymbolKey): void => {
    if (!out.some((k) => k.key.index === key.index)) out.push({ file: fileName, kind, key });
  };
  const format = await detectFormat(src);
  switch (format) {
    case 'pe': {
      const pe = await parsePe(src);
      add('pe', peKey(name, pe.timestamp, pe.sizeOfImage));
      // The PDB's key uses only the file name of the recorded path: the build machine's folders
      // mean nothing to a symbol server.
      for (const cv of pe.codeView) {
        const pdbName = baseName(cv.path);
        try {
          if (cv.format === 'NB10') add('pdbref', pdbNb10Key(pdbName, cv.signature, cv.age));
          else if (cv.portable) add('pdbref', portablePdbKey(pdbName, cv.guid));
          else add('pdbref', pdbKey(pdbName, cv.guid, cv.age));
        } catch (err) {
          // A recorded PDB name that cannot be a store key (empty, `..`, a drive-relative `C:x.pdb`)
          // names no symbol file we could fetch; the image's own key is still good.
          if (!(err instanceof SymsrvError && err.code === 'E_BAD_KEY')) throw err;
        }
      }
      return out;
    }
    case 'pdb': {
      const id = await readPdbIdentity(src);
      add('pdb', pdbKey(name, id.guid, id.age));
      return out;
    }
    case 'portable-pdb': {
      add('pdb', portablePdbKey(name, await readPortablePdbGuid(src)));
      return out;
    }
    case 'elf': {
      const elf = await parseElf(src);
      // No build-id, no key: such files cannot be looked up by content (not an error).
      if (!elf.buildId) return out;
      // A file with DWARF is a symbol file; its only identity is where debug files live
      // (dotnet/symstore's ELFFileKeyGenerator does the same).
      if (!elf.hasDebugInfo) add('elf', elfKey(name, elf.buildId));
      add('elf-debug', elfDebugKey(elf.buildId));
      return out;
    }
    case 'macho': {
      // One key per slice of a fat file. A dSYM's DWARF file is a symbol file: its only key is
      // the `_.dwarf` one, which a binary names as where its dSYM lives (dotnet/symstore's
      // MachOFileKeyGenerator does the same). A slice without LC_UUID has no key.
      for (const slice of (await parseMachO(src)).slices) {
        if (!slice.uuid) continue;
        if (slice.fileType !== MH_DSYM) add('macho', machoKey(name, slice.uuid));
        add('macho-dsym', machoDsymKey(slice.uuid));
      }
      return out;
    }
    case 'minidump':
      for (const m of dumpModuleKeys(await parseMinidump(src))) {
        for (const k of m.keys) out.push({ file: fileName, kind: k.kind, key: k.key, module: m.path });
      }
      return out;
    case 'cab':
      // A compressed store file (`name.pd_`): the keys of the file it holds, under that file's
      // name. A cabinet inside a cabinet is no symbol file.
      if (inCabinet) throw new SymsrvError('E_UNKNOWN_FORMAT', `${fileName} holds another CAB archive, not a symbol file`, { subject: fileName });
      return withExpanded(src, (path, inner) =>
        withFile(path, async (expanded) => (await keysOf(expanded, inner, true)).map((k) => ({ ...k, file: fileName }))),
      );
    case 'unknown':
      throw new SymsrvError('E_UNKNOWN_FORMAT', `${fileName} is not a PE image, PDB, ELF or Mach-O file or a minidump (unknown magic)`, { subject: fileName });
  }
}

/**
 * The modules of the crash dump at `path` with their keys (also those without any), or undefined
 * when the file is not a minidump: the shell lists a dump's modules this way.
 */
export async function dumpModulesOf(path: string): Promise<DumpModuleKeys[] | undefined> {
  return withFile(path, async (src) => ((await detectFormat(src)) === 'minidump' ? dumpModuleKeys(await parseMinidump(src)) : undefined));
}

/**
 * What `src` shows to a key: used to check that a downloaded file is the one asked for. Undefined
 * for formats that carry no identity (or an ELF file without build-id). A file whose magic claims
 * a format but whose structure is broken throws that parser's SymsrvError (E_BAD_PE, ...).
 */
export async function readIdentity(src: ByteSource): Promise<Identity | undefined> {
  switch (await detectFormat(src)) {
    case 'pe': {
      const pe = await parsePe(src);
      return { type: 'pe', timestamp: pe.timestamp, sizeOfImage: pe.sizeOfImage };
    }
    case 'pdb': {
      const id = await readPdbIdentity(src);
      return { type: 'pdb', guid: guidText(id.guid), age: id.age };
    }
    case 'portable-pdb':
      return { type: 'portable-pdb', guid: guidText(await readPortablePdbGuid(src)) };
    case 'elf': {
      const elf = await parseElf(src);
      return elf.buildId ? { type: 'elf', buildId: ssqpBuildId(elf.buildId) } : undefined;
    }
    case 'macho': {
      const uuids = (await parseMachO(src)).slices.flatMap((s) => (s.uuid ? [s.uuid.toString('hex')] : []));
      return uuids.length > 0 ? { type: 'macho', uuids } : undefined;
    }
    default:
      return undefined;
  }
}

/**
 * The GUID of a standalone portable PDB: the first 16 bytes of its `#Pdb` stream (the PDB id is
 * GUID + 4-byte stamp; ECMA-335 II.24.2.1 metadata root, Portable PDB spec "#Pdb stream").
 * Kept here until portable PDBs get a format module of their own.
 */
async function readPortablePdbGuid(src: ByteSource): Promise<Buffer> {
  const bad = (offset: number, what: string): SymsrvError =>
    new SymsrvError('E_BAD_PDB', `bad portable PDB ${what} in ${src.name} at offset 0x${offset.toString(16)}`, { subject: src.name });
  const root = await src.read(0, 16, 'metadata root');
  const versionLength = root.readUInt32LE(12);
  // The spec caps the version string at 255 bytes (padded to a multiple of 4).
  if (versionLength > 256 || versionLength % 4 !== 0) throw bad(12, `metadata root: version length ${versionLength}`);
  let at = 16 + versionLength;
  const streams = (await src.read(at, 4, 'metadata root')).readUInt16LE(2);
  at += 4;
  // Real metadata has at most 8 streams (#~ #Strings #US #GUID #Blob #Pdb #JTD ...).
  if (streams > 64) throw bad(at - 2, `metadata root: ${streams} streams`);
  for (let i = 0; i < streams; i++) {
    const header = await src.read(at, Math.min(8 + 32, src.size - at), 'stream header');
    if (header.length < 9) throw bad(at, 'stream header');
    const offset = header.readUInt32LE(0);
    const size = header.readUInt32LE(4);
    const nul = header.indexOf(0, 8);
    if (nul < 0) throw bad(at, 'stream header: name longer than 32 bytes');
    const name = header.toString('latin1', 8, nul);
    if (name === '#Pdb') {
      if (size < 20) throw bad(at, `#Pdb stream: ${size} bytes, at least 20 needed`);
      return Buffer.from(await src.read(offset, 16, '#Pdb stream'));
    }
    at += 8 + Math.ceil((nul - 8 + 1) / 4) * 4;
  }
  throw bad(16 + versionLength, 'metadata root: no #Pdb stream');
}
