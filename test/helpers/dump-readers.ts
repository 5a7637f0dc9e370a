import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { withFile } from '../../src/io/source.js';
import { MsfFile } from '../../src/formats/msf/msf.js';
import { fixture, layoutMsf, requireTool, run, writeMsfFile } from './readers.js';

/**
 * Independent readers of minidumps and Mach-O files for tests (LLVM 14's obj2yaml, llvm-dwarfdump,
 * llvm-objdump), the module tables of test/fixtures/minidumps/MODULES.md, and builders of inputs
 * (a minidump writer for dumps no fixture has, ELF files with a chosen build-id).
 */

export interface YamlModule {
  base: bigint;
  size: number;
  checksum: number;
  timestamp: number;
  name: string;
  /** The CodeView record's bytes; empty when obj2yaml prints none. */
  codeView: Buffer;
}

export interface YamlMinidump {
  /** obj2yaml's platform name (Win32NT, MacOSX, Linux, ...). */
  platform: string | undefined;
  modules: YamlModule[];
}

/** A YAML scalar as obj2yaml writes it: plain, 'single' ('' escapes ') or "double". */
function scalar(text: string): string {
  const t = text.trim();
  if (t.startsWith("'")) return t.slice(1, -1).replace(/''/g, "'");
  if (t.startsWith('"')) return JSON.parse(t) as string;
  return t;
}

const num = (t: string): number => Number(t.trim());

/** The module list and platform of a dump, as `obj2yaml` (LLVM 14) decodes them. */
export function obj2yamlMinidump(path: string): YamlMinidump {
  requireTool('obj2yaml');
  const text = run('obj2yaml', [path]);
  const lines = text.split('\n');
  let platform: string | undefined;
  const modules: YamlModule[] = [];
  let inModules = false;
  let m: YamlModule | undefined;
  for (const line of lines) {
    const stream = /^ {2}- Type:\s+(\S+)/.exec(line);
    if (stream) {
      inModules = stream[1] === 'ModuleList';
      continue;
    }
    const p = /^ {4}Platform ID:\s+(\S+)/.exec(line);
    if (p) platform = p[1];
    if (!inModules) continue;
    const field = /^ {6}(?:- | {2})([A-Za-z ]+):\s*(.*)$/.exec(line);
    if (!field) continue;
    const [, key, value] = field as unknown as [string, string, string];
    if (key === 'Base of Image') {
      m = { base: BigInt(value.trim()), size: 0, checksum: 0, timestamp: 0, name: '', codeView: Buffer.alloc(0) };
      modules.push(m);
    } else if (m && key === 'Size of Image') m.size = num(value);
    else if (m && key === 'Checksum') m.checksum = num(value);
    else if (m && key === 'Time Date Stamp') m.timestamp = num(value);
    else if (m && key === 'Module Name') m.name = scalar(value);
    else if (m && key === 'CodeView Record') m.codeView = Buffer.from(scalar(value), 'hex');
  }
  return { platform, modules };
}

/** UUID per architecture as `llvm-dwarfdump --uuid` prints them: `[{arch, uuid}]`, uuid lower-case without dashes. */
export function dwarfdumpUuids(path: string): { arch: string; uuid: string }[] {
  requireTool('llvm-dwarfdump');
  return run('llvm-dwarfdump', ['--uuid', path])
    .split('\n')
    .flatMap((l) => {
      const m = /^UUID: ([0-9A-F-]{36}) \((\S+)\)/.exec(l);
      return m ? [{ arch: m[2]!, uuid: m[1]!.replace(/-/g, '').toLowerCase() }] : [];
    });
}

/** The filetype of each slice, as `llvm-objdump --macho --private-headers --arch=all` prints it (EXECUTE, DSYM, ...). */
export function objdumpFileTypes(path: string): string[] {
  requireTool('llvm-objdump');
  const text = run('llvm-objdump', ['--macho', '--private-headers', '--arch=all', path]);
  return [...text.matchAll(/^\s*MH_MAGIC\S*\s+\S+\s+\S+\s+\S+\s+(\S+)/gm)].map((m) => m[1]!);
}

/** The keys of each dump in MODULES.md: `{ 'test.dmp': [[keys of module 0], ...] }`. */
export function modulesTable(mdPath: string): Map<string, { module: string; keys: string[] }[]> {
  const tables = new Map<string, { module: string; keys: string[] }[]>();
  let current: { module: string; keys: string[] }[] | undefined;
  for (const line of readFileSync(mdPath, 'utf8').split('\n')) {
    const h = /^## `minidumps\/([^`]+)`/.exec(line);
    if (h) {
      current = [];
      tables.set(h[1]!, current);
      continue;
    }
    const row = /^\| (\d+) \| ([^|]+) \|/.exec(line);
    if (row && current) {
      const cells = line.split('|');
      const keys = [...cells[cells.length - 2]!.matchAll(/`([^`]+)`/g)].map((k) => k[1]!);
      current.push({ module: row[2]!.trim(), keys });
    }
  }
  return tables;
}

// ---------------------------------------------------------------------------------------------
// Builders

export interface DumpModuleSpec {
  path: string;
  base?: bigint;
  sizeOfImage?: number;
  timestamp?: number;
  /** CodeView record bytes (see rsds(), bpel()); none when omitted. */
  codeView?: Buffer;
}

/** An RSDS CodeView record (GUID in file order). */
export function rsds(guid: Buffer, age: number, pdb: string): Buffer {
  const head = Buffer.alloc(24);
  head.write('RSDS', 0, 'latin1');
  guid.copy(head, 4);
  head.writeUInt32LE(age, 20);
  return Buffer.concat([head, Buffer.from(pdb + '\0', 'utf8')]);
}

/** Breakpad's MDCVInfoELF record: 'BpEL' and the build-id. */
export function bpel(buildId: Buffer): Buffer {
  return Buffer.concat([Buffer.from('LEpB', 'latin1'), buildId]);
}

/**
 * A minidump with a SystemInfo stream (PlatformId `platform`) and a ModuleList stream, laid out as
 * dbghelp does (header, directory, streams, then strings and CodeView records). For module lists
 * no fixture has (hundreds of modules) and for derived malformed dumps.
 */
export function buildMinidump(platform: number, modules: readonly DumpModuleSpec[]): Buffer {
  const HEADER = 32;
  const dirAt = HEADER;
  const sysAt = dirAt + 2 * 12;
  const sysSize = 56;
  const listAt = sysAt + sysSize;
  const listSize = 4 + modules.length * 108;
  let tail = listAt + listSize;
  const blobs: Buffer[] = [];
  const place = (b: Buffer): number => {
    const at = tail;
    blobs.push(b);
    tail += b.length;
    return at;
  };
  const list = Buffer.alloc(listSize);
  list.writeUInt32LE(modules.length, 0);
  modules.forEach((m, i) => {
    const at = 4 + i * 108;
    const name = Buffer.from(m.path, 'utf16le');
    const nameBlob = Buffer.alloc(4 + name.length + 2);
    nameBlob.writeUInt32LE(name.length, 0);
    name.copy(nameBlob, 4);
    list.writeBigUInt64LE(m.base ?? BigInt(0x10000000 + i * 0x100000), at);
    list.writeUInt32LE(m.sizeOfImage ?? 0x1000, at + 8);
    list.writeUInt32LE(m.timestamp ?? 0, at + 16);
    list.writeUInt32LE(place(nameBlob), at + 20);
    if (m.codeView) {
      list.writeUInt32LE(m.codeView.length, at + 76);
      list.writeUInt32LE(place(m.codeView), at + 80);
    }
  });
  const header = Buffer.alloc(HEADER);
  header.write('MDMP', 0, 'latin1');
  header.writeUInt32LE(0xa793, 4);
  header.writeUInt32LE(2, 8);
  header.writeUInt32LE(dirAt, 12);
  const dir = Buffer.alloc(24);
  dir.writeUInt32LE(7, 0); // SystemInfoStream
  dir.writeUInt32LE(sysSize, 4);
  dir.writeUInt32LE(sysAt, 8);
  dir.writeUInt32LE(4, 12); // ModuleListStream
  dir.writeUInt32LE(listSize, 16);
  dir.writeUInt32LE(listAt, 20);
  const sys = Buffer.alloc(sysSize);
  sys.writeUInt16LE(9, 0); // AMD64
  sys.writeUInt32LE(platform, 20);
  return Buffer.concat([header, dir, sys, list, ...blobs]);
}

/** An ELF executable built by gcc with the given build-id (`-Wl,--build-id=0xHEX`). */
export async function buildElfWithBuildId(dir: string, name: string, buildId: string): Promise<string> {
  requireTool('gcc');
  const src = join(dir, `${name}.c`);
  await writeFile(src, 'int main(void) { return 0; }\n');
  const out = join(dir, name);
  run('gcc', ['-O1', `-Wl,--build-id=0x${buildId}`, src, '-o', out]);
  return out;
}

/**
 * A real PDB (test/fixtures/pdb/HelloWorld.pdb, linked by MSVC) given another GUID and age: its
 * PDB info stream (age at 8, GUID at 12) and DBI stream header (age at 8) are rewritten and the
 * MSF laid out again. What a store needs to serve a file that passes the GUID/age check for a key
 * whose real PDB we do not have (the modules of a Windows dump); llvm-pdbutil reads it back.
 */
export async function writeSyntheticPdb(path: string, guid: Buffer, age: number): Promise<void> {
  const streams = await withFile(fixture('pdb/HelloWorld.pdb'), async (src) => {
    const msf = await MsfFile.open(src);
    const out: (Buffer | null)[] = [];
    for (let i = 0; i < msf.streamCount; i++) out.push(msf.isNilStream(i) ? null : Buffer.from(await (await msf.stream(i)).read(0, msf.streamSize(i))));
    return out;
  });
  const info = streams[1]!;
  info.writeUInt32LE(age, 8);
  guid.copy(info, 12);
  streams[3]!.writeUInt32LE(age, 8);
  await writeMsfFile(path, layoutMsf({ blockSize: 512, streams }));
}
