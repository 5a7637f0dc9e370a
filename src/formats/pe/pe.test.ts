import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isSymsrvError, SymsrvError } from '../../errors.js';
import { BufferSource, withFile, type ByteSource } from '../../io/source.js';
import { buildPePdb, fixture, readobjPe, run, type ReadobjPe } from '../../../test/helpers/readers.js';
import { MAX_DEBUG_ENTRIES, parsePe, type PeInfo } from './pe.js';

const FIXTURE_PES = [
  'pe/HelloWorld.exe',
  'pe/System.Diagnostics.StackTrace.dll',
  'pe/System.ComponentModel.EventBasedAsync.dll',
  'pe/crash.exe',
  'pe/CrashWithException.exe',
  'pe/arm64/test.exe',
  'portable-pdb/dir1/System.Threading.Thread.dll',
  'portable-pdb/dir2/System.Threading.Thread.dll',
  'portable-pdb/ppdb-sourcelink-sample.dll',
  'portable-pdb/Sentry.Samples.Console.Basic.dll',
  'portable-pdb/Sentry.Samples.Console.Basic-embedded-ppdb.dll',
];

const RSDS = 0x53445352;

/** Our parse against llvm-readobj's, field by field. */
function assertSameAsReadobj(ours: PeInfo, theirs: ReadobjPe, file: string): void {
  assert.equal(ours.machine, theirs.machine, `${file}: machine`);
  assert.equal(ours.timestamp, theirs.timestamp, `${file}: timestamp`);
  assert.equal(ours.is64, theirs.magic === 0x20b, `${file}: PE32+`);
  assert.equal(ours.sizeOfImage, theirs.sizeOfImage, `${file}: SizeOfImage`);
  const cv = theirs.debug.filter((e) => e.type === 2 && e.pdb);
  assert.equal(ours.codeView.length, cv.length, `${file}: CodeView entries`);
  cv.forEach((e, i) => {
    const r = ours.codeView[i]!;
    const pdb = e.pdb!;
    if (pdb.signature === RSDS) {
      assert.equal(r.format, 'RSDS');
      if (r.format !== 'RSDS') return;
      assert.deepEqual(r.guid, pdb.guid, `${file}: GUID ${i}`);
      assert.equal(r.portable, e.majorVersion === 0x100 && e.minorVersion === 0x504d, `${file}: portable ${i}`);
    } else {
      assert.equal(r.format, 'NB10');
    }
    assert.equal(r.age, pdb.age, `${file}: age ${i}`);
    assert.equal(r.path, pdb.fileName, `${file}: path ${i}`);
  });
}

const parseFile = (path: string): Promise<PeInfo> => withFile(path, parsePe);

/** A source that remembers the furthest byte any read touched. */
class Watching implements ByteSource {
  furthest = 0;
  constructor(private readonly inner: ByteSource) {}
  get name(): string {
    return this.inner.name;
  }
  get size(): number {
    return this.inner.size;
  }
  read(position: number, length: number, what?: string): Promise<Buffer> {
    this.furthest = Math.max(this.furthest, position + length);
    return this.inner.read(position, length, what);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

async function expectCode(p: Promise<unknown>, codes: readonly string[], label: string): Promise<SymsrvError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof SymsrvError, `${label}: expected a SymsrvError, got ${String(err)}`);
    assert.ok(codes.includes(err.code), `${label}: code ${err.code}, expected ${codes.join('|')}: ${err.message}`);
    return err;
  }
  assert.fail(`${label}: expected ${codes.join('|')}, but it parsed`);
}

/** PE header offsets of a parsed image, for deriving broken copies. */
function layout(b: Buffer): { lfanew: number; opt: number; is64: boolean; debugDir: number; sectionTable: number; nsec: number } {
  const lfanew = b.readUInt32LE(0x3c);
  const opt = lfanew + 24;
  const is64 = b.readUInt16LE(opt) === 0x20b;
  const debugDir = opt + (is64 ? 112 : 96) + 6 * 8;
  return { lfanew, opt, is64, debugDir, sectionTable: opt + b.readUInt16LE(lfanew + 20), nsec: b.readUInt16LE(lfanew + 6) };
}

describe('parsePe on the fixtures, against llvm-readobj', () => {
  for (const rel of FIXTURE_PES) {
    it(rel, async () => {
      const path = fixture(rel);
      assertSameAsReadobj(await parseFile(path), readobjPe(path), rel);
    });
  }

  it('reads both CodeView records of System.Diagnostics.StackTrace.dll, both portable (README)', async () => {
    const pe = await parseFile(fixture('pe/System.Diagnostics.StackTrace.dll'));
    assert.equal(pe.machine, 0xfd1d);
    assert.equal(pe.is64, true);
    assert.deepEqual(
      pe.codeView.map((r) => [r.format, r.format === 'RSDS' && r.portable, r.path]),
      [
        ['RSDS', true, 'System.Diagnostics.StackTrace.ni.pdb'],
        ['RSDS', true, '/root/corefx/bin/obj/Unix.AnyCPU.Release/System.Diagnostics.StackTrace/netcoreapp/System.Diagnostics.StackTrace.pdb'],
      ],
    );
  });

  it('tells the (0x100,0x0) .ni.pdb entry of System.Threading.Thread.dll from the portable one', async () => {
    const pe = await parseFile(fixture('portable-pdb/dir1/System.Threading.Thread.dll'));
    assert.deepEqual(
      pe.codeView.map((r) => r.format === 'RSDS' && r.portable),
      [false, true],
    );
  });

  it('gives no CodeView record for the ARM64 image that has only POGO', async () => {
    const pe = await parseFile(fixture('pe/arm64/test.exe'));
    assert.equal(pe.machine, 0xaa64);
    assert.deepEqual(pe.codeView, []);
  });
});

describe('parsePe on images built with clang-14 + lld-link-14, against llvm-readobj', () => {
  let dir = '';
  const built: Record<string, string> = {};
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'symsrv-pe-'));
    built.x86exe = buildPePdb(dir, { arch: 'x86', kind: 'exe', name: 'hello32' }).image;
    built.x64exe = buildPePdb(dir, { arch: 'x64', kind: 'exe', name: 'hello64' }).image;
    built.x86dll = buildPePdb(dir, { arch: 'x86', kind: 'dll', name: 'lib32' }).image;
    built.x64dll = buildPePdb(dir, { arch: 'x64', kind: 'dll', name: 'lib64' }).image;
    built.altpath = buildPePdb(dir, { arch: 'x64', kind: 'exe', name: 'alt', pdbAltPath: true }).image;
    built.page8k = buildPePdb(dir, { arch: 'x64', kind: 'dll', name: 'page8k', pdbPageSize: 8192 }).image;
    // No /debug: no debug directory at all.
    run('clang-14', ['--driver-mode=cl', '--target=x86_64-pc-windows-msvc', '/nologo', '/c', '/GS-', join(dir, 'hello64.c'), `/Fo${join(dir, 'nodebug.obj')}`], dir);
    run('lld-link-14', ['/nologo', '/nodefaultlib', '/entry:main', '/subsystem:console', `/out:${join(dir, 'nodebug.exe')}`, join(dir, 'nodebug.obj')], dir);
    built.nodebug = join(dir, 'nodebug.exe');
  });
  after(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  for (const name of ['x86exe', 'x64exe', 'x86dll', 'x64dll', 'altpath', 'page8k', 'nodebug']) {
    it(name, async () => {
      const path = built[name]!;
      const ours = await parseFile(path);
      assertSameAsReadobj(ours, readobjPe(path), name);
      assert.equal(ours.is64, !name.startsWith('x86'));
      assert.equal(ours.machine, name.startsWith('x86') ? 0x14c : 0x8664);
    });
  }

  it('/pdbaltpath:%_PDB% records the bare name; the default records a full path', async () => {
    const alt = await parseFile(built.altpath!);
    assert.equal(alt.codeView[0]?.path, 'alt.pdb');
    const full = await parseFile(built.x64exe!);
    assert.equal(full.codeView[0]?.path, join(dir, 'hello64.pdb'));
  });

  it('an image linked without /debug has no CodeView record', async () => {
    assert.deepEqual((await parseFile(built.nodebug!)).codeView, []);
  });

  it('finds a debug directory that sits in the headers', async () => {
    const original = await readFile(built.x64exe!);
    const b = Buffer.from(original);
    const l = layout(b);
    const rva = b.readUInt32LE(l.debugDir);
    const size = b.readUInt32LE(l.debugDir + 4);
    const ref = await parsePe(new BufferSource(original, 'orig.exe'));
    // Move the entries into the zero slack after the section table (RVA = file offset there).
    const sectionsEnd = l.sectionTable + 40 * l.nsec;
    const first = await new BufferSource(original).read(0, 0x400);
    const moved = sectionsEnd + 8;
    assert.ok(first.subarray(moved, moved + size).every((x) => x === 0), 'slack is free');
    const fromOffset = findDebugDirOffset(b, rva);
    b.copy(b, moved, fromOffset, fromOffset + size);
    b.writeUInt32LE(moved, l.debugDir);
    assert.deepEqual(await parsePe(new BufferSource(b, 'moved.exe')), ref);
  });

  it('uses AddressOfRawData when PointerToRawData is 0', async () => {
    const original = await readFile(built.x86dll!);
    const b = Buffer.from(original);
    const l = layout(b);
    const entry = findDebugDirOffset(b, b.readUInt32LE(l.debugDir));
    b.writeUInt32LE(0, entry + 24);
    assert.deepEqual(await parsePe(new BufferSource(b, 'p0.dll')), await parsePe(new BufferSource(original, 'o.dll')));
  });

  it('reads an NB10 record (PDB 2.0)', async () => {
    const b = Buffer.from(await readFile(built.x86exe!));
    const l = layout(b);
    const entry = findDebugDirOffset(b, b.readUInt32LE(l.debugDir));
    const data = b.readUInt32LE(entry + 24);
    const sizeOfData = b.readUInt32LE(entry + 16);
    b.fill(0, data, data + sizeOfData);
    b.write('NB10', data, 'latin1');
    b.writeUInt32LE(0, data + 4);
    b.writeUInt32LE(0x3a2b1c4d, data + 8);
    b.writeUInt32LE(7, data + 12);
    b.write('C:\\old\\vc60.pdb', data + 16, 'latin1');
    const pe = await parsePe(new BufferSource(b, 'nb10.exe'));
    assert.deepEqual(pe.codeView, [{ format: 'NB10', signature: 0x3a2b1c4d, age: 7, path: 'C:\\old\\vc60.pdb' }]);
  });
});

/** File offset of the debug directory, through the section table (test-side, by hand). */
function findDebugDirOffset(b: Buffer, rva: number): number {
  const l = layout(b);
  for (let i = 0; i < l.nsec; i++) {
    const at = l.sectionTable + 40 * i;
    const va = b.readUInt32LE(at + 12);
    const raw = b.readUInt32LE(at + 16);
    if (rva >= va && rva < va + raw) return b.readUInt32LE(at + 20) + (rva - va);
  }
  throw new Error('debug directory in no section');
}

describe('parsePe on bad input: a SymsrvError with a code, nothing else', () => {
  it('a zero-length file is truncated', async () => {
    await expectCode(parsePe(new BufferSource(Buffer.alloc(0), 'empty.exe')), ['E_TRUNCATED'], 'empty');
  });

  it('no MZ magic', async () => {
    const b = Buffer.from(await readFile(fixture('pe/crash.exe')));
    b.write('ZM', 0, 'latin1');
    const err = await expectCode(parsePe(new BufferSource(b, 'zm.exe')), ['E_BAD_PE'], 'ZM');
    assert.match(err.message, /zm\.exe at offset 0x0/);
  });

  it('e_lfanew past the end of the file', async () => {
    const b = Buffer.from(await readFile(fixture('pe/HelloWorld.exe')));
    b.writeUInt32LE(0xffffff00, 0x3c);
    const err = await expectCode(parsePe(new BufferSource(b, 'far.exe')), ['E_BAD_PE'], 'e_lfanew');
    assert.match(err.message, /far\.exe at offset 0x3c/);
  });

  it('no PE signature at e_lfanew', async () => {
    const b = Buffer.from(await readFile(fixture('pe/HelloWorld.exe')));
    b.writeUInt32LE(0x40, 0x3c);
    await expectCode(parsePe(new BufferSource(b, 'nope.exe')), ['E_BAD_PE'], 'signature');
  });

  it('more than 96 sections', async () => {
    const b = Buffer.from(await readFile(fixture('pe/crash.exe')));
    b.writeUInt16LE(200, layout(b).lfanew + 6);
    await expectCode(parsePe(new BufferSource(b, 'many.exe')), ['E_BAD_PE'], 'sections');
  });

  it('an optional header magic that is neither PE32 nor PE32+', async () => {
    const b = Buffer.from(await readFile(fixture('pe/crash.exe')));
    b.writeUInt16LE(0x107, layout(b).opt);
    await expectCode(parsePe(new BufferSource(b, 'rom.exe')), ['E_BAD_PE'], 'magic');
  });

  it('a debug directory size that claims too many entries', async () => {
    const b = Buffer.from(await readFile(fixture('pe/CrashWithException.exe')));
    b.writeUInt32LE((MAX_DEBUG_ENTRIES + 1) * 28, layout(b).debugDir + 4);
    await expectCode(parsePe(new BufferSource(b, 'dd.exe')), ['E_BAD_PE'], 'debug entries');
  });

  it('a debug directory RVA in no section', async () => {
    const b = Buffer.from(await readFile(fixture('pe/CrashWithException.exe')));
    b.writeUInt32LE(0x7fff0000, layout(b).debugDir);
    await expectCode(parsePe(new BufferSource(b, 'rva.exe')), ['E_BAD_PE'], 'RVA');
  });

  it('a CodeView PointerToRawData past the end of the file', async () => {
    const b = Buffer.from(await readFile(fixture('pe/HelloWorld.exe')));
    const entry = findDebugDirOffset(b, b.readUInt32LE(layout(b).debugDir));
    b.writeUInt32LE(0x7ffffff0, entry + 24);
    await expectCode(parsePe(new BufferSource(b, 'cv.exe')), ['E_TRUNCATED'], 'CodeView offset');
  });

  it('an RSDS record shorter than its header', async () => {
    const b = Buffer.from(await readFile(fixture('pe/HelloWorld.exe')));
    const entry = findDebugDirOffset(b, b.readUInt32LE(layout(b).debugDir));
    b.writeUInt32LE(10, entry + 16);
    await expectCode(parsePe(new BufferSource(b, 'short.exe')), ['E_BAD_PE'], 'short RSDS');
  });

  for (const rel of ['pe/HelloWorld.exe', 'pe/crash.exe', 'pe/System.Diagnostics.StackTrace.dll', 'pe/arm64/test.exe']) {
    it(`${rel} cut every 64 bytes: same result once all it needs is there, a SymsrvError before`, async () => {
      const whole = await readFile(fixture(rel));
      const watch = new Watching(new BufferSource(whole, rel));
      const full = await parsePe(watch);
      const needed = watch.furthest;
      for (let cut = 0; cut <= whole.length; cut += 64) {
        const p = parsePe(new BufferSource(whole.subarray(0, cut), `${rel}[0,${cut})`));
        if (cut >= needed) assert.deepEqual(await p, full, `cut at ${cut}`);
        else await expectCode(p, ['E_BAD_PE', 'E_TRUNCATED'], `cut at ${cut}`);
      }
      for (const cut of [needed - 1, needed - 28, 0x3c, 0x40, 0x41]) {
        if (cut < 0 || cut >= needed) continue;
        await expectCode(parsePe(new BufferSource(whole.subarray(0, cut), rel)), ['E_BAD_PE', 'E_TRUNCATED'], `cut at ${cut}`);
      }
    });
  }

  it('every error names the file', async () => {
    const b = Buffer.from(await readFile(fixture('pe/HelloWorld.exe')));
    const err = await expectCode(parsePe(new BufferSource(b.subarray(0, 200), 'cut-here.exe')), ['E_BAD_PE', 'E_TRUNCATED'], 'cut');
    assert.ok(isSymsrvError(err));
    assert.match(err.message, /cut-here\.exe/);
  });
});
