import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SymsrvError } from '../../errors.js';
import { BufferSource, withFile } from '../../io/source.js';
import { buildElfWithDebug, fixture, readelfBuildId, readelfSectionNames, readobjElf, requireTool, run } from '../../../test/helpers/readers.js';
import { parseElf, type ElfInfo } from './elf.js';

const FIXTURE_ELFS = [
  'elf/crash',
  'elf/stripped_executable',
  'elf/symbolized_executable',
  'elf/md5_build_id',
  'elf/renamed_build_id_section',
  'elf/apphost',
  'elf/libcoreclrtraceptprovider.so.dbg',
];

const parseFile = (path: string): Promise<ElfInfo> => withFile(path, parseElf);

/** Our parse against readelf (build-id, section names) and llvm-readobj (class, byte order, numbers). */
async function assertSameAsTools(path: string): Promise<ElfInfo> {
  const ours = await parseFile(path);
  const hdr = readobjElf(path);
  assert.equal(ours.class, hdr.class, 'class');
  assert.equal(ours.endian, hdr.endian, 'byte order');
  assert.equal(ours.machine, hdr.machine, 'machine');
  assert.equal(ours.type, hdr.type, 'type');
  assert.equal(ours.buildId?.toString('hex'), readelfBuildId(path), 'build-id');
  const names = readelfSectionNames(path);
  assert.equal(ours.hasDebugInfo, names.includes('.debug_info') || names.includes('.zdebug_info'), 'has .debug_info');
  return ours;
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

/** ELF64 little-endian header fields and the file offset of the GNU build-id note (by hand). */
function elf64(b: Buffer): { phoff: number; phnum: number; shoff: number; buildIdNote: number } {
  const phoff = Number(b.readBigUInt64LE(32));
  const shoff = Number(b.readBigUInt64LE(40));
  const phnum = b.readUInt16LE(56);
  const note = b.indexOf(Buffer.from([4, 0, 0, 0, 20, 0, 0, 0, 3, 0, 0, 0, 0x47, 0x4e, 0x55, 0]));
  return { phoff, phnum, shoff, buildIdNote: note };
}

/** The same file without a section table: only PT_NOTE segments can give the build-id. */
function withoutSections(b: Buffer): Buffer {
  const c = Buffer.from(b);
  c.writeBigUInt64LE(0n, 40); // e_shoff
  c.writeUInt16LE(0, 60); // e_shnum
  c.writeUInt16LE(0, 62); // e_shstrndx
  return c;
}

describe('parseElf on the fixtures, against readelf and llvm-readobj', () => {
  for (const rel of FIXTURE_ELFS) {
    it(rel, async () => {
      await assertSameAsTools(fixture(rel));
    });
  }
  it('elf/renamed_build_id_section: the note is in a SHT_NOTE section named .build-id', async () => {
    assert.equal((await parseFile(fixture('elf/renamed_build_id_section'))).buildId?.toString('hex'), '1bd6a199dcb6f234558d9439cfcbba2727f1e1d9');
  });
  it('elf/md5_build_id: a 16-byte build-id stays 16 bytes here (padding is a key rule)', async () => {
    assert.equal((await parseFile(fixture('elf/md5_build_id'))).buildId?.length, 16);
  });
  it('elf/apphost: 32-bit ARM', async () => {
    const e = await parseFile(fixture('elf/apphost'));
    assert.deepEqual([e.class, e.endian, e.machine, e.type], [32, 'little', 40, 2]);
  });
  for (const rel of ['elf/crash', 'elf/stripped_executable', 'elf/apphost']) {
    it(`${rel} without its section table: the build-id comes from PT_NOTE`, async () => {
      const b = await readFile(fixture(rel));
      const ref = await parseElf(new BufferSource(b, rel));
      let c: Buffer;
      if (b[4] === 2) c = withoutSections(b);
      else {
        c = Buffer.from(b);
        c.writeUInt32LE(0, 32); // e_shoff
        c.writeUInt16LE(0, 48); // e_shnum
        c.writeUInt16LE(0, 50); // e_shstrndx
      }
      const e = await parseElf(new BufferSource(c, `${rel}-nosections`));
      assert.deepEqual(e.buildId, ref.buildId);
      assert.equal(e.hasDebugInfo, false);
    });
  }
});

describe('parseElf on files built here and on system binaries', () => {
  let dir = '';
  let built = { withDebug: '', debug: '', stripped: '' };
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'symsrv-elf-'));
    built = await buildElfWithDebug(dir);
  });
  after(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('gcc -g: has .debug_info and a build-id', async () => {
    const e = await assertSameAsTools(built.withDebug);
    assert.equal(e.hasDebugInfo, true);
    assert.equal(e.buildId?.length, 20);
  });
  it('objcopy --only-keep-debug: a debug file with the same build-id', async () => {
    const d = await assertSameAsTools(built.debug);
    assert.equal(d.hasDebugInfo, true);
    assert.deepEqual(d.buildId, (await parseFile(built.withDebug)).buildId);
  });
  it('objcopy --strip-debug: no .debug_info, same build-id', async () => {
    const s = await assertSameAsTools(built.stripped);
    assert.equal(s.hasDebugInfo, false);
    assert.deepEqual(s.buildId, (await parseFile(built.withDebug)).buildId);
  });
  it('the gcc build without sections: PT_NOTE walk skips the 8-aligned .note.gnu.property segment', async () => {
    const b = await readFile(built.stripped);
    const e = await parseElf(new BufferSource(withoutSections(b), 'nosections'));
    assert.deepEqual(e.buildId, (await parseFile(built.stripped)).buildId);
  });
  it('-Wl,--build-id=none: no build-id, not an error', async () => {
    const out = join(dir, 'noid');
    run('gcc', ['-Wl,--build-id=none', join(dir, 'hello.c'), '-o', out]);
    assert.equal((await assertSameAsTools(out)).buildId, undefined);
  });
  for (const [target, klass, machine] of [
    ['mips-linux-gnu', 32, 8],
    ['powerpc64-linux-gnu', 64, 21],
    ['aarch64-linux-gnu', 64, 183],
  ] as const) {
    it(`clang-14 --target=${target} + ld.lld-14: ELF${klass} ${target.startsWith('aarch64') ? 'little' : 'big'}-endian`, async () => {
      requireTool('clang-14');
      requireTool('ld.lld-14');
      const src = join(dir, 'start.c');
      await writeFile(src, 'void _start(void) { for (;;) {} }\n');
      const out = join(dir, `start-${target}`);
      const id = target.startsWith('powerpc') ? 'md5' : 'sha1';
      run('clang-14', [`--target=${target}`, '-fuse-ld=lld', '-nostdlib', '-g', `-Wl,--build-id=${id}`, src, '-o', out]);
      const e = await assertSameAsTools(out);
      assert.deepEqual([e.class, e.machine], [klass, machine]);
      assert.equal(e.buildId?.length, id === 'md5' ? 16 : 20);
    });
  }
  for (const sys of ['/bin/ls', '/bin/cat', '/usr/bin/env']) {
    it(`system binary ${sys}`, { skip: existsSync(sys) ? false : `${sys} is absent` }, async () => {
      await assertSameAsTools(sys);
    });
  }
});

describe('parseElf on bad input: a SymsrvError with a code, nothing else', () => {
  let crash = Buffer.alloc(0);
  before(async () => {
    crash = await readFile(fixture('elf/stripped_executable'));
  });

  it('a zero-length file is truncated', async () => {
    await expectCode(parseElf(new BufferSource(Buffer.alloc(0), 'empty')), ['E_TRUNCATED'], 'empty');
  });
  it('a bad class or byte order', async () => {
    const b = Buffer.from(crash);
    b[4] = 3;
    await expectCode(parseElf(new BufferSource(b, 'c3')), ['E_BAD_ELF'], 'class');
    const c = Buffer.from(crash);
    c[5] = 0;
    await expectCode(parseElf(new BufferSource(c, 'd0')), ['E_BAD_ELF'], 'data');
  });
  it('a build-id note whose descsz runs past its section and segment', async () => {
    const b = Buffer.from(crash);
    const { buildIdNote } = elf64(b);
    assert.ok(buildIdNote > 0);
    b.writeUInt32LE(0x1000, buildIdNote + 4);
    const err = await expectCode(parseElf(new BufferSource(b, 'longdesc')), ['E_BAD_ELF'], 'descsz');
    assert.match(err.message, new RegExp(`longdesc at offset 0x${buildIdNote.toString(16)}`));
    // Same through the PT_NOTE path.
    await expectCode(parseElf(new BufferSource(withoutSections(b), 'longdesc-seg')), ['E_BAD_ELF'], 'descsz (segment)');
  });
  it('a note whose namesz is huge', async () => {
    const b = Buffer.from(crash);
    b.writeUInt32LE(0xfffffff0, elf64(b).buildIdNote);
    await expectCode(parseElf(new BufferSource(b, 'longname')), ['E_BAD_ELF'], 'namesz');
  });
  it('a note section whose contents lie past the end of the file', async () => {
    // Truncate the file right after the section table is moved... simpler: cut inside the note.
    const b = Buffer.from(crash);
    const { buildIdNote } = elf64(b);
    const cut = withoutSections(b).subarray(0, buildIdNote + 20);
    await expectCode(parseElf(new BufferSource(cut, 'cutnote')), ['E_TRUNCATED'], 'cut note');
  });
  it('empty notes (all sizes 0) end the walk, no loop', async () => {
    const b = Buffer.from(crash);
    const { buildIdNote } = elf64(b);
    b.fill(0, buildIdNote, buildIdNote + 36);
    const e = await parseElf(new BufferSource(b, 'zeros'));
    assert.equal(e.buildId, undefined);
  });
  it('truncated in the program headers', async () => {
    const b = withoutSections(crash);
    const { phoff } = elf64(b);
    const err = await expectCode(parseElf(new BufferSource(b.subarray(0, phoff + 100), 'cutph')), ['E_TRUNCATED'], 'phdrs');
    assert.match(err.message, /program header table/);
  });
  it('a program header entry size too small', async () => {
    const b = Buffer.from(crash);
    b.writeUInt16LE(8, 54);
    await expectCode(parseElf(new BufferSource(b, 'phent')), ['E_BAD_ELF'], 'phentsize');
  });
  it('a section table past the end of the file', async () => {
    const b = Buffer.from(crash);
    b.writeBigUInt64LE(0xffffffffn, 40);
    await expectCode(parseElf(new BufferSource(b, 'shoff')), ['E_TRUNCATED'], 'shoff');
  });
  it('a 64-bit offset beyond 2^53 is refused, not rounded', async () => {
    const b = Buffer.from(crash);
    b.writeBigUInt64LE(0xffffffffffffff00n, 40);
    await expectCode(parseElf(new BufferSource(b, 'huge')), ['E_BAD_ELF'], 'u64');
  });
  it('a section name table index past the section count', async () => {
    const b = Buffer.from(crash);
    b.writeUInt16LE(500, 62);
    await expectCode(parseElf(new BufferSource(b, 'shstrndx')), ['E_BAD_ELF'], 'shstrndx');
  });
  for (const rel of ['elf/stripped_executable', 'elf/apphost', 'elf/renamed_build_id_section']) {
    it(`${rel} cut every 64 bytes: never anything but a SymsrvError`, async () => {
      const whole = await readFile(fixture(rel));
      const full = await parseElf(new BufferSource(whole, rel));
      for (let cut = 0; cut < whole.length; cut += 64) {
        const p = parseElf(new BufferSource(whole.subarray(0, cut), `${rel}[0,${cut})`));
        // The section table is at the end: any cut before it fails.
        await expectCode(p, ['E_BAD_ELF', 'E_TRUNCATED'], `cut at ${cut}`);
      }
      assert.deepEqual(await parseElf(new BufferSource(whole, rel)), full);
    });
  }
});
