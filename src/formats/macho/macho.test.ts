import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SymsrvError } from '../../errors.js';
import { BufferSource, withFile } from '../../io/source.js';
import { detectFormat } from '../detect.js';
import { fixture, run } from '../../../test/helpers/readers.js';
import { dwarfdumpUuids, objdumpFileTypes } from '../../../test/helpers/dump-readers.js';
import { makeTempDir, removeDir } from '../../../test/helpers/tempdir.js';
import { MAX_FAT_ARCHS, parseMachO } from './macho.js';

const FILES = [
  'macho/crash',
  'macho/crash.dSYM/Contents/Resources/DWARF/crash',
  'macho/Example.framework.dSYM/Contents/Resources/DWARF/Example',
  'minidumps/modules/crash_macos',
];

const FILETYPES: Record<string, number> = { EXECUTE: 2, DYLIB: 6, BUNDLE: 8, DSYM: 0xa };

/** Mach-O files no fixture has, written by LLVM's yaml2obj: big-endian 32-bit, fat64, no LC_UUID. */
const YAML: Record<string, string> = {
  'be.bundle': `--- !mach-o
IsLittleEndian: false
FileHeader: { magic: 0xFEEDFACE, cputype: 0x12, cpusubtype: 0x0, filetype: 0x8, ncmds: 1, sizeofcmds: 24, flags: 0x0 }
LoadCommands:
  - { cmd: LC_UUID, cmdsize: 24, uuid: 00112233-4455-6677-8899-AABBCCDDEEFF }
`,
  fat64: `--- !fat-mach-o
FatHeader: { magic: 0xCAFEBABF, nfat_arch: 2 }
FatArchs:
  - { cputype: 0x1000007, cpusubtype: 0x3, offset: 0x1000, size: 56, align: 12, reserved: 0 }
  - { cputype: 0x100000C, cpusubtype: 0x0, offset: 0x2000, size: 56, align: 12, reserved: 0 }
Slices:
  - !mach-o
    FileHeader: { magic: 0xFEEDFACF, cputype: 0x1000007, cpusubtype: 0x3, filetype: 0x2, ncmds: 1, sizeofcmds: 24, flags: 0x0, reserved: 0x0 }
    LoadCommands:
      - { cmd: LC_UUID, cmdsize: 24, uuid: 0A0B0C0D-0E0F-1011-1213-141516171819 }
  - !mach-o
    FileHeader: { magic: 0xFEEDFACF, cputype: 0x100000C, cpusubtype: 0x0, filetype: 0x2, ncmds: 1, sizeofcmds: 24, flags: 0x0, reserved: 0x0 }
    LoadCommands:
      - { cmd: LC_UUID, cmdsize: 24, uuid: F0E0D0C0-B0A0-9080-7060-504030201000 }
`,
  'nouuid.bundle': `--- !mach-o
FileHeader: { magic: 0xFEEDFACF, cputype: 0x1000007, cpusubtype: 0x3, filetype: 0x8, ncmds: 1, sizeofcmds: 24, flags: 0x0, reserved: 0x0 }
LoadCommands:
  - { cmd: LC_BUILD_VERSION, cmdsize: 24, platform: 1, minos: 0, sdk: 0, ntools: 0 }
`,
};

async function expectBad(p: Promise<unknown>, message: RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof SymsrvError, `a SymsrvError, not ${String(err)}`);
    assert.equal(err.code, 'E_BAD_MACHO', err.message);
    assert.match(err.message, message);
    assert.match(err.message, / in (file-|prefix )/, 'the message names the file');
    return true;
  });
}

describe('parseMachO', () => {
  let dir: string;
  const built: string[] = [];
  before(async () => {
    dir = await makeTempDir('symsrv-macho-');
    for (const [name, yaml] of Object.entries(YAML)) {
      await writeFile(join(dir, `${name}.yaml`), yaml);
      run('yaml2obj', [join(dir, `${name}.yaml`), '-o', join(dir, name)]);
      built.push(join(dir, name));
    }
  });
  after(() => removeDir(dir));

  it('UUIDs and file types per slice, as llvm-dwarfdump and llvm-objdump read them', async () => {
    for (const path of [...FILES.map(fixture), ...built]) {
      const ours = await withFile(path, parseMachO);
      const uuids = dwarfdumpUuids(path);
      assert.deepEqual(
        ours.slices.flatMap((s) => (s.uuid ? [s.uuid.toString('hex')] : [])),
        uuids.map((u) => u.uuid),
        `${path}: UUIDs`,
      );
      assert.deepEqual(
        ours.slices.map((s) => s.fileType),
        objdumpFileTypes(path).map((t) => FILETYPES[t]),
        `${path}: file types`,
      );
      assert.equal(await withFile(path, detectFormat), 'macho');
    }
  });

  it('fat files: one slice per architecture, 32- and 64-bit fat headers', async () => {
    const example = await withFile(fixture('macho/Example.framework.dSYM/Contents/Resources/DWARF/Example'), parseMachO);
    assert.equal(example.fat, true);
    assert.deepEqual(
      example.slices.map((s) => s.cpuType),
      [0x1000007, 0x100000c],
    );
    const fat64 = await withFile(join(dir, 'fat64'), parseMachO);
    assert.equal(fat64.fat, true);
    assert.deepEqual(
      fat64.slices.map((s) => s.offset),
      [0x1000, 0x2000],
    );
  });

  it('a Java class file (same magic as a fat header) is not Mach-O', async () => {
    const cls = Buffer.from('cafebabe00000034000a', 'hex'); // minor 0, major 52 (Java 8)
    assert.equal(await detectFormat(new BufferSource(Buffer.concat([cls, Buffer.alloc(64)]))), 'unknown');
  });

  it('corrupt headers, tables and load commands: E_BAD_MACHO naming the file', async () => {
    const thin = await readFile(fixture('macho/crash'));
    const fat = await readFile(fixture('macho/Example.framework.dSYM/Contents/Resources/DWARF/Example'));
    const cases: [string, Buffer, (b: Buffer) => void, RegExp][] = [
      ['sizeofcmds', thin, (b) => b.writeUInt32LE(0x7fffffff, 20), /sizeofcmds/],
      ['ncmds', thin, (b) => b.writeUInt32LE(100000, 16), /load commands/],
      ['cmdsize 0', thin, (b) => b.writeUInt32LE(0, 32 + 4), /load command 0/],
      ['cmdsize past the end', thin, (b) => b.writeUInt32LE(0xfff0, 32 + 4), /load command 0/],
      ['fat slice offset', fat, (b) => b.writeUInt32BE(0xfffffff0, 8 + 8), /fat architecture 0/],
      ['fat slice cputype', fat, (b) => b.writeUInt32BE(7, 8), /fat table says/],
      ['fat count', fat, (b) => b.writeUInt32BE(MAX_FAT_ARCHS - 1, 4), /architectures|fat architecture|slice|header/],
    ];
    for (const [what, original, corrupt, message] of cases) {
      const b = Buffer.from(original);
      corrupt(b);
      await expectBad(parseMachO(new BufferSource(b, `file-${what}`)), message);
    }
  });

  it('every prefix of a fat file: E_BAD_MACHO or a whole parse, never another error', async () => {
    const bytes = await readFile(fixture('macho/Example.framework.dSYM/Contents/Resources/DWARF/Example'));
    for (let n = 8; n < bytes.length; n += 211) {
      await assert.rejects(parseMachO(new BufferSource(bytes.subarray(0, n), `prefix ${n}`)), (err: unknown) => {
        assert.ok(err instanceof SymsrvError && err.code === 'E_BAD_MACHO', `prefix ${n}: ${String(err)}`);
        return true;
      });
    }
  });
});
