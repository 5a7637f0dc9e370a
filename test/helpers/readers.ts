import { execFileSync, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { open, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

/**
 * Independent readers for tests: run LLVM and binutils tools on a file and parse what they print,
 * so our parsers are checked against code we did not write. Also builders of real inputs
 * (PE + PDB with clang/lld-link, ELF with gcc/objcopy) and of synthetic MSF files.
 *
 * A missing tool is a test FAILURE with a message saying what to install, never a skip: the
 * project's test command installs them, so a skip would hide a broken environment.
 */

/** The repository root (this file is dist/test/helpers/readers.js once built). */
export const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));

/** Absolute path of a file under test/fixtures/. */
export function fixture(rel: string): string {
  return join(repoRoot, 'test', 'fixtures', rel);
}

const INSTALL_HINT: Record<string, string> = {
  'clang-14': 'apt-get install clang-14',
  'lld-link-14': 'apt-get install lld-14',
  'ld.lld-14': 'apt-get install lld-14',
  'llvm-readobj': 'apt-get install llvm (or llvm-14)',
  'llvm-pdbutil': 'apt-get install llvm (or llvm-14)',
  readelf: 'apt-get install binutils',
  objcopy: 'apt-get install binutils',
  gcc: 'apt-get install gcc',
};

/** Throws a clear Error if `tool` cannot be run. */
export function requireTool(tool: string): void {
  const r = spawnSync(tool, ['--version'], { stdio: 'ignore' });
  if (r.error) {
    const hint = INSTALL_HINT[tool] ?? 'install it';
    throw new Error(`${tool} is required by this test but cannot be run (${(r.error as NodeJS.ErrnoException).code}): ${hint}`);
  }
}

/** Runs a tool and returns its stdout; stderr warnings (readelf on debug files) are ignored. */
export function run(tool: string, args: readonly string[], cwd?: string): string {
  requireTool(tool);
  return execFileSync(tool, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, stdio: ['ignore', 'pipe', 'pipe'], cwd });
}

function field(text: string, name: string): string {
  const m = new RegExp(`^\\s*${name}:\\s*(.*)$`, 'm').exec(text);
  if (!m) throw new Error(`tool output has no "${name}:" line:\n${text.slice(0, 2000)}`);
  return m[1]!.trim();
}

/** The last `(0x...)` or bare `0x...` of a value, as a number. */
function hexOf(value: string): number {
  const all = value.match(/0x[0-9a-fA-F]+/g);
  if (!all) throw new Error(`no hex number in "${value}"`);
  return parseInt(all[all.length - 1]!, 16);
}

// ---------------------------------------------------------------------------------------------
// PE: llvm-readobj --file-headers --coff-debug-directory

export interface ReadobjDebugEntry {
  type: number;
  majorVersion: number;
  minorVersion: number;
  sizeOfData: number;
  pointerToRawData: number;
  pdb?: { signature: number; guid: Buffer; age: number; fileName: string };
}

export interface ReadobjPe {
  machine: number;
  timestamp: number;
  /** Optional header magic: 0x10B (PE32) or 0x20B (PE32+). */
  magic: number;
  sizeOfImage: number;
  debug: ReadobjDebugEntry[];
}

export function readobjPe(path: string): ReadobjPe {
  const text = run('llvm-readobj', ['--file-headers', '--coff-debug-directory', path]);
  const fileHeader = section(text, 'ImageFileHeader {', 'ImageOptionalHeader {');
  const optHeader = section(text, 'ImageOptionalHeader {', 'DOSHeader {');
  const debug: ReadobjDebugEntry[] = [];
  for (const block of text.split('DebugEntry {').slice(1)) {
    const entry: ReadobjDebugEntry = {
      type: hexOf(field(block, 'Type')),
      majorVersion: hexOf(field(block, 'MajorVersion')),
      minorVersion: hexOf(field(block, 'MinorVersion')),
      sizeOfData: hexOf(field(block, 'SizeOfData')),
      pointerToRawData: hexOf(field(block, 'PointerToRawData')),
    };
    if (block.includes('PDBInfo {')) {
      const bytes = /PDBGUID:\s*\(([0-9A-Fa-f ]+)\)/.exec(block);
      entry.pdb = {
        signature: hexOf(field(block, 'PDBSignature')),
        guid: Buffer.from(bytes ? bytes[1]!.replace(/\s+/g, '') : '', 'hex'),
        age: parseInt(field(block, 'PDBAge'), 10),
        fileName: field(block, 'PDBFileName'),
      };
    }
    debug.push(entry);
  }
  return {
    machine: hexOf(field(fileHeader, 'Machine')),
    timestamp: hexOf(field(fileHeader, 'TimeDateStamp')),
    magic: hexOf(field(optHeader, 'Magic')),
    sizeOfImage: parseInt(field(optHeader, 'SizeOfImage'), 10),
    debug,
  };
}

function section(text: string, start: string, end: string): string {
  const a = text.indexOf(start);
  if (a < 0) throw new Error(`tool output has no "${start}":\n${text.slice(0, 2000)}`);
  const b = text.indexOf(end, a);
  return text.slice(a, b < 0 ? undefined : b);
}

// ---------------------------------------------------------------------------------------------
// PDB: llvm-pdbutil dump --summary, pdb2yaml --pdb-stream --dbi-stream, pdb2yaml --stream-directory

export interface PdbSummary {
  blockSize: number;
  numBlocks: number;
  numStreams: number;
  signature: number;
  age: number;
  /** 32 upper-case hex digits, no braces or dashes (the key's text form). */
  guid: string;
}

export function pdbutilSummary(path: string): PdbSummary {
  const text = run('llvm-pdbutil', ['dump', '--summary', path]);
  return {
    blockSize: parseInt(field(text, 'Block Size'), 10),
    numBlocks: parseInt(field(text, 'Number of blocks'), 10),
    numStreams: parseInt(field(text, 'Number of streams'), 10),
    signature: parseInt(field(text, 'Signature'), 10),
    age: parseInt(field(text, 'Age'), 10),
    guid: guidOf(field(text, 'GUID')),
  };
}

function guidOf(text: string): string {
  return text.replace(/[{}'\-]/g, '').toUpperCase();
}

export interface PdbYaml {
  blockSize: number;
  freeBlockMap: number;
  numBlocks: number;
  numDirectoryBytes: number;
  blockMapAddr: number;
  directoryBlocks: number[];
  infoAge: number;
  dbiAge: number;
  guid: string;
  signature: number;
}

export function pdbutilYaml(path: string): PdbYaml {
  const text = run('llvm-pdbutil', ['pdb2yaml', '--pdb-stream', '--dbi-stream', path]);
  const pdb = section(text, 'PdbStream:', 'DbiStream:');
  const dbi = section(text, 'DbiStream:', '\n...');
  return {
    blockSize: parseInt(field(text, 'BlockSize'), 10),
    freeBlockMap: parseInt(field(text, 'FreeBlockMap'), 10),
    numBlocks: parseInt(field(text, 'NumBlocks'), 10),
    numDirectoryBytes: parseInt(field(text, 'NumDirectoryBytes'), 10),
    blockMapAddr: parseInt(field(text, 'BlockMapAddr'), 10),
    directoryBlocks: yamlNumbers(text, 'DirectoryBlocks'),
    infoAge: parseInt(field(pdb, 'Age'), 10),
    dbiAge: parseInt(field(dbi, 'Age'), 10),
    guid: guidOf(field(pdb, 'Guid')),
    signature: parseInt(field(pdb, 'Signature'), 10),
  };
}

/** A flow-style YAML list of numbers (`Name: [ 1, 2,\n 3 ]`), which may span lines. */
function yamlNumbers(text: string, name: string): number[] {
  const m = new RegExp(`${name}:\\s*\\[([^\\]]*)\\]`).exec(text);
  if (!m) throw new Error(`tool output has no "${name}: [...]"`);
  return m[1]!
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
    .map((s) => parseInt(s, 10));
}

export interface PdbStreamDirectory {
  sizes: number[];
  blocks: number[][];
}

/** Each stream's size and block list, as llvm-pdbutil reads the MSF directory. */
export function pdbutilStreamDirectory(path: string): PdbStreamDirectory {
  const text = run('llvm-pdbutil', ['pdb2yaml', '--stream-directory', path]);
  const sizes = yamlNumbers(text, 'StreamSizes');
  const map = text.slice(text.indexOf('StreamMap:'));
  const blocks = [...map.matchAll(/- Stream:\s*\[([^\]]*)\]/g)].map((m) =>
    m[1]!
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s.length > 0)
      .map((s) => parseInt(s, 10)),
  );
  return { sizes, blocks };
}

// ---------------------------------------------------------------------------------------------
// ELF: readelf -n -W (notes), readelf -S -W (section names), llvm-readobj --file-headers (numbers)

/** The GNU build-id as readelf prints it (lower-case hex), or undefined. */
export function readelfBuildId(path: string): string | undefined {
  const text = run('readelf', ['-n', '-W', path]);
  return /Build ID:\s*([0-9a-f]+)/.exec(text)?.[1];
}

/** Section names in section-header order (readelf -S -W). */
export function readelfSectionNames(path: string): string[] {
  const text = run('readelf', ['-S', '-W', path]);
  const names: string[] = [];
  for (const m of text.matchAll(/^\s*\[\s*\d+\]\s(.*)$/gm)) {
    const rest = m[1]!;
    // Columns: Name Type Address ...; the null section has an empty name.
    const name = rest.slice(0, 17).trim();
    const first = rest.trim().split(/\s+/)[0]!;
    names.push(rest.startsWith(' '.repeat(17)) ? '' : name.length >= 17 ? first : name);
  }
  return names;
}

export interface ReadobjElf {
  class: 32 | 64;
  endian: 'little' | 'big';
  type: number;
  machine: number;
}

export function readobjElf(path: string): ReadobjElf {
  const text = run('llvm-readobj', ['--file-headers', path]);
  return {
    class: hexOf(field(text, 'Class')) === 2 ? 64 : 32,
    endian: hexOf(field(text, 'DataEncoding')) === 1 ? 'little' : 'big',
    type: hexOf(field(text, 'Type')),
    machine: hexOf(field(text, 'Machine')),
  };
}

// ---------------------------------------------------------------------------------------------
// Builders of real inputs

export interface PePdbOptions {
  arch: 'x86' | 'x64';
  kind: 'exe' | 'dll';
  /** Output base name (without extension). */
  name: string;
  pdbPageSize?: number;
  /** Link with /pdbaltpath:%_PDB%: the image records only the PDB's file name. */
  pdbAltPath?: boolean;
}

/**
 * Builds a PE image and its PDB in `dir` with clang-14 (cl driver) and lld-link-14, no CRT
 * (see /work/shared/notes/pe-pdb-with-clang.md). Returns their paths.
 */
export function buildPePdb(dir: string, o: PePdbOptions): { image: string; pdb: string } {
  requireTool('clang-14');
  requireTool('lld-link-14');
  const src = join(dir, `${o.name}.c`);
  const obj = join(dir, `${o.name}.obj`);
  const image = join(dir, `${o.name}.${o.kind}`);
  const pdb = join(dir, `${o.name}.pdb`);
  const code =
    o.kind === 'exe'
      ? 'static volatile int sink;\nint main(void) { sink = 42; return sink; }\n'
      : '__declspec(dllexport) int add(int a, int b) { return a + b; }\n';
  writeFileSync(src, code);
  const target = o.arch === 'x64' ? 'x86_64-pc-windows-msvc' : 'i686-pc-windows-msvc';
  run('clang-14', ['--driver-mode=cl', `--target=${target}`, '/nologo', '/c', '/Z7', '/GS-', '/O1', src, `/Fo${obj}`], dir);
  const link = ['/nologo', '/debug', '/nodefaultlib', `/out:${image}`, `/pdb:${pdb}`];
  if (o.kind === 'exe') link.push('/entry:main', '/subsystem:console');
  else link.push('/dll', '/noentry');
  if (o.pdbPageSize) link.push(`/pdbpagesize:${o.pdbPageSize}`);
  if (o.pdbAltPath) link.push('/pdbaltpath:%_PDB%');
  link.push(obj);
  run('lld-link-14', link, dir);
  return { image, pdb };
}

/**
 * Builds, with gcc and binutils, an ELF executable with DWARF and a build-id, its debug file
 * (objcopy --only-keep-debug) and the stripped executable (objcopy --strip-debug).
 */
export async function buildElfWithDebug(dir: string, name = 'hello'): Promise<{ withDebug: string; debug: string; stripped: string }> {
  requireTool('gcc');
  requireTool('objcopy');
  const src = join(dir, `${name}.c`);
  await writeFile(src, '#include <stdio.h>\nint main(void) { puts("hello"); return 0; }\n');
  const withDebug = join(dir, name);
  const debug = join(dir, `${name}.debug`);
  const stripped = join(dir, `${name}.stripped`);
  run('gcc', ['-g', '-O1', '-Wl,--build-id', src, '-o', withDebug]);
  run('objcopy', ['--only-keep-debug', withDebug, debug]);
  run('objcopy', ['--strip-debug', withDebug, stripped]);
  return { withDebug, debug, stripped };
}

// ---------------------------------------------------------------------------------------------
// Synthetic MSF files (for layouts no linker writes on demand: huge offsets, big directories)

export interface MsfSpec {
  blockSize: number;
  /** Stream contents; null is a nil stream (size 0xFFFFFFFF). */
  streams: ReadonlyArray<Buffer | null>;
  /** First block index for stream data, directory and block map (default 3). Large values put them past 4 GB. */
  firstBlock?: number;
  /** Give each stream its blocks in reverse order, so no two consecutive blocks are adjacent in the file. */
  reverse?: boolean;
}

export interface MsfImage {
  blockSize: number;
  numBlocks: number;
  /** The file's non-zero blocks by index; every other block is zeros. */
  blocks: Map<number, Buffer>;
  /** Where each stream's blocks are. */
  streamBlocks: number[][];
  directoryBlocks: number[];
  blockMapAddrs: number[];
}

/** Lays out an MSF 7.0 file in memory, sparse: only the blocks written are stored. */
export function layoutMsf(spec: MsfSpec): MsfImage {
  const bs = spec.blockSize;
  const blocks = new Map<number, Buffer>();
  let next = spec.firstBlock ?? 3;
  const put = (data: Buffer, reverse = false): number[] => {
    const n = Math.ceil(data.length / bs);
    const indices = Array.from({ length: n }, (_, k) => next + k);
    if (reverse) indices.reverse();
    next += n;
    indices.forEach((block, k) => {
      const b = Buffer.alloc(bs);
      data.copy(b, 0, k * bs, Math.min(data.length, (k + 1) * bs));
      blocks.set(block, b);
    });
    return indices;
  };
  const streamBlocks = spec.streams.map((s) => (s ? put(s, spec.reverse) : []));
  const dirParts: Buffer[] = [u32(spec.streams.length)];
  for (const s of spec.streams) dirParts.push(u32(s ? s.length : 0xffffffff));
  for (const list of streamBlocks) for (const b of list) dirParts.push(u32(b));
  const directory = Buffer.concat(dirParts);
  const directoryBlocks = put(directory);
  const blockMapAddrs = put(Buffer.concat(directoryBlocks.map(u32)));
  const superblock = Buffer.alloc(bs);
  Buffer.from('Microsoft C/C++ MSF 7.00\r\n\x1aDS\0\0\0', 'latin1').copy(superblock, 0);
  superblock.writeUInt32LE(bs, 32);
  superblock.writeUInt32LE(1, 36);
  superblock.writeUInt32LE(next, 40);
  superblock.writeUInt32LE(directory.length, 44);
  blockMapAddrs.forEach((b, k) => superblock.writeUInt32LE(b, 52 + 4 * k));
  blocks.set(0, superblock);
  return { blockSize: bs, numBlocks: next, blocks, streamBlocks, directoryBlocks, blockMapAddrs };
}

/** Writes an MSF image as a sparse file: only its non-zero blocks take disk space. */
export async function writeMsfFile(path: string, image: MsfImage): Promise<void> {
  const fh = await open(path, 'w');
  try {
    for (const [index, data] of image.blocks) await fh.write(data, 0, data.length, index * image.blockSize);
    await fh.truncate(image.numBlocks * image.blockSize);
  } finally {
    await fh.close();
  }
}

/** A minimal PDB info stream (version VC70, signature, age, GUID, empty named-stream map, VC140). */
export function pdbInfoStream(signature: number, age: number, guid: Buffer): Buffer {
  return Buffer.concat([u32(20000404), u32(signature), u32(age), guid, u32(0), u32(0), u32(1), u32(0), u32(0), u32(20140508)]);
}

/** A minimal DBI stream header (64 bytes, V70, all substreams empty) with `age`. */
export function dbiStream(age: number): Buffer {
  const b = Buffer.alloc(64);
  b.writeInt32LE(-1, 0);
  b.writeUInt32LE(19990903, 4);
  b.writeUInt32LE(age, 8);
  b.writeUInt16LE(0xffff, 12); // no globals stream
  b.writeUInt16LE(0xffff, 16); // no publics stream
  b.writeUInt16LE(0xffff, 20); // no symbol records stream
  b.writeUInt16LE(0x8664, 62); // machine AMD64
  return b;
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n >>> 0, 0);
  return b;
}
