import { SymsrvError } from '../errors.js';
import { escapeControls } from '../escape.js';

/**
 * A symbol store key, `name/ID/name`, and what a downloaded file must be to match it.
 *
 * Every builder here is pure (no file needed), so a caller that already knows a timestamp,
 * GUID or build-id (from a minidump's module list, say) builds the same key a file would give.
 * The rules with worked examples are in docs/keys.md.
 */

/** What a key was computed from: the kinds printed by `symsrv key`. */
export type KeyKind = 'pe' | 'pdbref' | 'pdb' | 'elf' | 'elf-debug' | 'macho' | 'macho-dsym';

/** What a file fetched for a key must show, checked before it is cached. */
export type Identity =
  | { type: 'pe'; timestamp: number; sizeOfImage: number }
  | { type: 'pdb'; guid: string; age: number } // guid: 32 upper-case hex, Data1-3 as printed
  | { type: 'pdb-nb10'; signature: number; age: number }
  | { type: 'portable-pdb'; guid: string }
  | { type: 'elf'; buildId: string } // lower-case hex as in the key (possibly zero-padded)
  // A key names one UUID; a fat file shows one per slice and matches when the key's is among them.
  | { type: 'macho'; uuids: string[] }; // 32 lower-case hex each

export interface SymbolKey {
  /** `name/ID/name`: the relative path of the file in a two-tier store. */
  readonly index: string;
  /** The file name (first and last component). */
  readonly name: string;
  /** The middle component. */
  readonly id: string;
  /** What the file must show; undefined when the key's form does not tell. */
  readonly identity: Identity | undefined;
}

/**
 * Rejects a key component that could address anything but one entry of one folder. This runs
 * before any path or URL is built from a key, so `..`, separators, drive letters and NUL never
 * reach the file system or a URL (CWE-22).
 */
export function checkComponent(component: string, key: string): void {
  const bad =
    component.length === 0 ||
    component === '.' ||
    component === '..' ||
    /[\/\\\0:]/.test(component) ||
    // Control characters cannot appear in a symbol file name and are rejected by Windows stores.
    /[\u0000-\u001f\u007f]/.test(component) ||
    component.length > 255;
  if (bad) {
    throw new SymsrvError('E_BAD_KEY', `bad key "${printable(key)}": component "${printable(component)}" is not a plain file name`, {
      subject: key,
    });
  }
}

/** Outside text made safe for a terminal or a log (escape.ts): an ESC or CSI from a file name in a crash dump must not drive the terminal. */
export function printable(s: string): string {
  return escapeControls(s);
}

function make(name: string, id: string, identity: Identity | undefined): SymbolKey {
  const index = `${name}/${id}/${name}`;
  checkComponent(name, index);
  checkComponent(id, index);
  return { index, name, id, identity };
}

/** The file-name part of a recorded path, whichever separator the recording OS used. */
export function baseName(path: string): string {
  const parts = path.split(/[\\/]/);
  return parts[parts.length - 1] ?? '';
}

const hex = (n: number): string => n.toString(16);
const HEX8 = (n: number): string => n.toString(16).toUpperCase().padStart(8, '0');

/**
 * The text form of a GUID stored as 16 bytes in file order (Data1 LE u32, Data2 LE u16, Data3 LE u16,
 * Data4 8 bytes): 32 upper-case hex digits, the same text llvm-pdbutil prints without dashes.
 */
export function guidText(bytes: Uint8Array): string {
  if (bytes.length !== 16) throw new RangeError(`a GUID has 16 bytes, not ${bytes.length}`);
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, 16);
  const d1 = b.readUInt32LE(0).toString(16).padStart(8, '0');
  const d2 = b.readUInt16LE(4).toString(16).padStart(4, '0');
  const d3 = b.readUInt16LE(6).toString(16).padStart(4, '0');
  return (d1 + d2 + d3 + b.subarray(8).toString('hex')).toUpperCase();
}

/** PE image: `name/%08X(TimeDateStamp)%x(SizeOfImage)/name`. */
export function peKey(name: string, timestamp: number, sizeOfImage: number): SymbolKey {
  return make(name, HEX8(timestamp) + hex(sizeOfImage), { type: 'pe', timestamp, sizeOfImage });
}

/** PDB 7 (RSDS): `name.pdb/GUID(32 upper hex)AGE(%x)/name.pdb`. `guid` is 16 bytes in file order or its text. */
export function pdbKey(name: string, guid: Uint8Array | string, age: number): SymbolKey {
  const g = typeof guid === 'string' ? guid.replace(/-/g, '').toUpperCase() : guidText(guid);
  return make(name, g + hex(age), { type: 'pdb', guid: g, age });
}

/** PDB 2.0 (NB10): `name.pdb/%08X(signature)%x(age)/name.pdb`. */
export function pdbNb10Key(name: string, signature: number, age: number): SymbolKey {
  return make(name, HEX8(signature) + hex(age), { type: 'pdb-nb10', signature, age });
}

/** Portable PDB (SSQP "Portable-Pdb-Signature"): the GUID followed by `FFFFFFFF` in place of an age. */
export function portablePdbKey(name: string, guid: Uint8Array | string): SymbolKey {
  const g = typeof guid === 'string' ? guid.replace(/-/g, '').toUpperCase() : guidText(guid);
  return make(name, g + 'FFFFFFFF', { type: 'portable-pdb', guid: g });
}

/**
 * SSQP pads a build-id shorter than 20 bytes with zero bytes to 20 (SSQP_Key_Conventions.md,
 * "ELF-buildid"), so a 16-byte MD5 build-id is looked up as 40 hex digits.
 */
export function ssqpBuildId(buildId: Uint8Array | string): string {
  const h = typeof buildId === 'string' ? buildId.toLowerCase() : Buffer.from(buildId).toString('hex');
  return h.length < 40 ? h.padEnd(40, '0') : h;
}

/** ELF binary (SSQP): `name/elf-buildid-HEX/name`. */
export function elfKey(name: string, buildId: Uint8Array | string): SymbolKey {
  const h = ssqpBuildId(buildId);
  return make(name, `elf-buildid-${h}`, { type: 'elf', buildId: h });
}

/** ELF debug file (SSQP): `_.debug/elf-buildid-sym-HEX/_.debug`. */
export function elfDebugKey(buildId: Uint8Array | string): SymbolKey {
  const h = ssqpBuildId(buildId);
  return make('_.debug', `elf-buildid-sym-${h}`, { type: 'elf', buildId: h });
}

/** A Mach-O LC_UUID as SSQP writes it: 32 lower-case hex digits in stored byte order. */
export function machUuid(uuid: Uint8Array | string): string {
  const h = typeof uuid === 'string' ? uuid.replace(/-/g, '').toLowerCase() : Buffer.from(uuid).toString('hex');
  if (!/^[0-9a-f]{32}$/.test(h)) throw new SymsrvError('E_BAD_KEY', `bad Mach-O UUID "${printable(h)}"`);
  return h;
}

/** Mach-O binary (SSQP "Mach-uuid"): `name/mach-uuid-UUID/name`. */
export function machoKey(name: string, uuid: Uint8Array | string): SymbolKey {
  const u = machUuid(uuid);
  return make(name, `mach-uuid-${u}`, { type: 'macho', uuids: [u] });
}

/** The DWARF file of a dSYM (SSQP "Mach-uuid-sym"): `_.dwarf/mach-uuid-sym-UUID/_.dwarf`. */
export function machoDsymKey(uuid: Uint8Array | string): SymbolKey {
  const u = machUuid(uuid);
  return make('_.dwarf', `mach-uuid-sym-${u}`, { type: 'macho', uuids: [u] });
}

/** debuginfod's path for the debug file of a build-id (unpadded, as debuginfod servers index it). */
export function debuginfodPath(buildId: Uint8Array | string): string {
  const h = typeof buildId === 'string' ? buildId.toLowerCase() : Buffer.from(buildId).toString('hex');
  if (!/^[0-9a-f]+$/.test(h)) throw new SymsrvError('E_BAD_KEY', `bad build-id "${printable(h)}"`);
  return `buildid/${h}/debuginfo`;
}

/**
 * Parses a key as `symsrv key` prints it, and infers what the file must show from the ID's form.
 * Components are checked before anything else is done with them.
 */
export function parseKey(text: string): SymbolKey {
  const parts = text.split('/');
  if (parts.length !== 3) {
    throw new SymsrvError('E_BAD_KEY', `bad key "${printable(text)}": expected name/ID/name`, { subject: text });
  }
  const [name, id, last] = parts as [string, string, string];
  checkComponent(name, text);
  checkComponent(id, text);
  checkComponent(last, text);
  if (name.toLowerCase() !== last.toLowerCase()) {
    throw new SymsrvError('E_BAD_KEY', `bad key "${printable(text)}": first and last components differ`, { subject: text });
  }
  return { index: text, name, id, identity: inferIdentity(name, id) };
}

function inferIdentity(name: string, id: string): Identity | undefined {
  let m = /^elf-buildid-(?:sym-)?([0-9a-fA-F]+)$/.exec(id);
  if (m) return { type: 'elf', buildId: m[1]!.toLowerCase() };
  m = /^mach-uuid-(?:sym-)?([0-9a-fA-F]{32})$/.exec(id);
  if (m) return { type: 'macho', uuids: [m[1]!.toLowerCase()] };
  const lower = name.toLowerCase();
  if (lower.endsWith('.pdb')) {
    m = /^([0-9a-fA-F]{32})FFFFFFFF$/i.exec(id);
    if (m) return { type: 'portable-pdb', guid: m[1]!.toUpperCase() };
    m = /^([0-9a-fA-F]{32})([0-9a-fA-F]{1,8})$/.exec(id);
    if (m) return { type: 'pdb', guid: m[1]!.toUpperCase(), age: parseInt(m[2]!, 16) };
    m = /^([0-9a-fA-F]{8})([0-9a-fA-F]{1,8})$/.exec(id);
    if (m) return { type: 'pdb-nb10', signature: parseInt(m[1]!, 16), age: parseInt(m[2]!, 16) };
    return undefined;
  }
  if (/\.(exe|dll|sys|efi|ocx|cpl|scr|drv|mui|winmd)$/i.test(lower)) {
    m = /^([0-9a-fA-F]{8})([0-9a-fA-F]{1,8})$/.exec(id);
    if (m) return { type: 'pe', timestamp: parseInt(m[1]!, 16), sizeOfImage: parseInt(m[2]!, 16) };
  }
  return undefined;
}
