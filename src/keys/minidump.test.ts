import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { BufferSource, withFile } from '../io/source.js';
import { parseMinidump, Platform } from '../formats/minidump/minidump.js';
import { fixture, readelfBuildId } from '../../test/helpers/readers.js';
import { bpel, buildMinidump, modulesTable, rsds } from '../../test/helpers/dump-readers.js';
import { computeKeys, computeKeysFromSource, dumpModulesOf, readIdentity } from './compute.js';
import { machoDsymKey, machoKey, parseKey } from './key.js';
import { dumpModuleKeys } from './minidump.js';

describe('keys of a minidump', () => {
  const tables = modulesTable(fixture('minidumps/MODULES.md'));

  it('MODULES.md has a table for every fixture dump', () => {
    assert.deepEqual([...tables.keys()].sort(), [
      'crash_linux.dmp',
      'crash_macos.dmp',
      'invalid-parameter.dmp',
      'pipeline-inlines-macos-segv.dmp',
      'simple-crashpad.dmp',
      'test.dmp',
    ]);
  });

  for (const [dump, rows] of tables) {
    it(`${dump}: every module's keys, as the MODULES.md table (obj2yaml) gives them`, async () => {
      const modules = (await dumpModulesOf(fixture(`minidumps/${dump}`)))!;
      assert.equal(modules.length, rows.length, 'module count');
      modules.forEach((m, i) => {
        const row = rows[i]!;
        assert.equal(m.path.split(/[\\/]/).pop(), row.module, `${i}: module name`);
        const ours = m.keys.map((k) => k.key.index);
        const macho = row.keys.length === 1 && /\/mach-uuid-/.test(row.keys[0]!);
        // The table gives a macOS module's binary key; its dSYM key (SSQP mach-uuid-sym) is
        // derived from the same UUID, as dotnet/symstore does for a binary.
        const expected = macho ? [row.keys[0]!, `_.dwarf/mach-uuid-sym-${/mach-uuid-([0-9a-f]{32})/.exec(row.keys[0]!)![1]}/_.dwarf`] : row.keys;
        assert.deepEqual(ours, expected, `${dump} module ${i} (${row.module})`);
      });
      // computeKeys lists the same keys, each with its module.
      const flat = await computeKeys(fixture(`minidumps/${dump}`));
      assert.deepEqual(
        flat.map((k) => k.key.index),
        modules.flatMap((m) => m.keys.map((k) => k.key.index)),
      );
      assert.ok(flat.every((k) => k.module !== undefined && k.file === fixture(`minidumps/${dump}`)));
    });
  }

  it('kinds: a Windows module is pe + pdbref, a Linux one elf + elf-debug, a macOS one macho + macho-dsym', async () => {
    const kinds = async (dump: string): Promise<string[]> => [...new Set((await computeKeys(fixture(`minidumps/${dump}`))).map((k) => k.kind))];
    assert.deepEqual(await kinds('test.dmp'), ['pe', 'pdbref']);
    assert.deepEqual(await kinds('crash_linux.dmp'), ['elf', 'elf-debug']);
    assert.deepEqual(await kinds('simple-crashpad.dmp'), ['macho', 'macho-dsym']);
  });

  it('a dump module and its binary give the same key (crash_macos.dmp ↔ the crash_macos binary)', async () => {
    const fromDump = (await computeKeys(fixture('minidumps/crash_macos.dmp'))).filter((k) => k.module?.endsWith('/crash_macos'));
    const fromFile = await computeKeys(fixture('minidumps/modules/crash_macos'));
    assert.deepEqual(
      fromDump.map((k) => [k.kind, k.key.index]),
      fromFile.map((k) => [k.kind, k.key.index]),
    );
    // and the binary's identity is what the dump's key asks for
    const identity = await withFile(fixture('minidumps/modules/crash_macos'), readIdentity);
    assert.deepEqual(identity, fromDump[0]!.key.identity);
  });

  it('a dump module and its binary give the same key (linux-mini.dmp ↔ elf/crash, build-id by readelf)', async () => {
    const fromDump = (await computeKeys(fixture('minidumps/linux-mini.dmp'))).filter((k) => k.module === '/work/linux/build/crash');
    const fromFile = await computeKeys(fixture('elf/crash'));
    assert.deepEqual(
      fromDump.map((k) => [k.kind, k.key.index]),
      fromFile.map((k) => [k.kind, k.key.index]),
    );
    assert.equal(fromDump[0]!.key.id, `elf-buildid-${readelfBuildId(fixture('elf/crash'))}`);
  });

  it('the rules per record and platform (derived dumps)', async () => {
    const guid = Buffer.from('00112233445566778899aabbccddeeff', 'hex');
    const nb10 = Buffer.alloc(16 + 8);
    nb10.write('NB10', 0, 'latin1');
    nb10.writeUInt32LE(0x003a2b1c, 8);
    nb10.writeUInt32LE(2, 12);
    nb10.write('old.pdb\0', 16, 'latin1');
    const win = await parseMinidump(
      new BufferSource(
        buildMinidump(Platform.WIN32_NT, [
          { path: 'C:\\x\\old.dll', timestamp: 0x12345678, sizeOfImage: 0x3000, codeView: nb10 },
          { path: 'C:\\x\\nocv.dll', timestamp: 0xabcdef01, sizeOfImage: 0x2000 },
          { path: 'C:\\x\\..', timestamp: 1, sizeOfImage: 0x1000, codeView: rsds(guid, 1, 'C:\\b\\good.pdb') },
        ]),
      ),
    );
    const w = dumpModuleKeys(win);
    assert.deepEqual(
      w.map((m) => m.keys.map((k) => `${k.kind} ${k.key.index}`)),
      [
        ['pe old.dll/123456783000/old.dll', 'pdbref old.pdb/003A2B1C2/old.pdb'],
        ['pe nocv.dll/ABCDEF012000/nocv.dll'],
        ['pdbref good.pdb/33221100554477668899AABBCCDDEEFF1/good.pdb'],
      ],
    );
    assert.match(w[1]!.note!, /no PDB recorded/);
    assert.match(w[2]!.note!, /bad key/, 'the image key of a module named ".." is dropped, with a note');

    const linux = dumpModuleKeys(
      await parseMinidump(
        new BufferSource(
          buildMinidump(Platform.ANDROID, [
            { path: '/system/lib64/libc.so', codeView: bpel(Buffer.from('00112233445566778899aabbccddeeff', 'hex')) },
            { path: '/old/breakpad.so', codeView: rsds(guid, 0, 'breakpad.so') },
            { path: '/no/record.so' },
          ]),
        ),
      ),
    );
    assert.deepEqual(
      linux.map((m) => m.keys.map((k) => k.key.index)),
      [
        // a 16-byte build-id is padded to 20 bytes (SSQP)
        ['libc.so/elf-buildid-00112233445566778899aabbccddeeff00000000/libc.so', '_.debug/elf-buildid-sym-00112233445566778899aabbccddeeff00000000/_.debug'],
        [],
        [],
      ],
    );
    assert.match(linux[1]!.note!, /truncated build-id/);
    assert.match(linux[2]!.note!, /no build-id/);
  });

  it('a file that is not a dump: dumpModulesOf gives undefined', async () => {
    assert.equal(await dumpModulesOf(fixture('macho/crash')), undefined);
  });
});

describe('Mach-O keys', () => {
  it('the SSQP worked examples (SSQP_Key_Conventions.md, "Mach-uuid" and "Mach-uuid-sym")', () => {
    const uuid = Buffer.from([0x49, 0x7b, 0x72, 0xf6, 0x39, 0x0a, 0x44, 0xfc, 0x87, 0x8e, 0x5a, 0x2d, 0x63, 0xb6, 0xcc, 0x4b]);
    assert.equal(machoKey('foo.dylib', uuid).index, 'foo.dylib/mach-uuid-497b72f6390a44fc878e5a2d63b6cc4b/foo.dylib');
    assert.equal(machoDsymKey(uuid).index, '_.dwarf/mach-uuid-sym-497b72f6390a44fc878e5a2d63b6cc4b/_.dwarf');
    // the UUID text with dashes, as tools print it, gives the same key
    assert.equal(machoKey('foo.dylib', '497B72F6-390A-44FC-878E-5A2D63B6CC4B').index, machoKey('foo.dylib', uuid).index);
    assert.throws(() => machoKey('foo.dylib', '497b72f6'), /bad Mach-O UUID/);
  });

  it('parseKey infers the UUID a fetched file must show', () => {
    for (const k of ['foo.dylib/mach-uuid-497b72f6390a44fc878e5a2d63b6cc4b/foo.dylib', '_.dwarf/mach-uuid-sym-497B72F6390A44FC878E5A2D63B6CC4B/_.dwarf']) {
      assert.deepEqual(parseKey(k).identity, { type: 'macho', uuids: ['497b72f6390a44fc878e5a2d63b6cc4b'] });
    }
  });

  it('fixture files: the keys of the fixtures README (llvm-objdump), one per slice of a fat dSYM', async () => {
    const keys = async (rel: string): Promise<string[]> => (await computeKeys(fixture(rel))).map((k) => `${k.kind} ${k.key.index}`);
    assert.deepEqual(await keys('macho/crash'), [
      'macho crash/mach-uuid-67e9247c814e392ba027dbde6748fcbf/crash',
      'macho-dsym _.dwarf/mach-uuid-sym-67e9247c814e392ba027dbde6748fcbf/_.dwarf',
    ]);
    assert.deepEqual(await keys('macho/crash.dSYM/Contents/Resources/DWARF/crash'), [
      'macho-dsym _.dwarf/mach-uuid-sym-67e9247c814e392ba027dbde6748fcbf/_.dwarf',
    ]);
    assert.deepEqual(await keys('macho/Example.framework.dSYM/Contents/Resources/DWARF/Example'), [
      'macho-dsym _.dwarf/mach-uuid-sym-3b4566e4491b3dcf94f5ae51f624dd87/_.dwarf',
      'macho-dsym _.dwarf/mach-uuid-sym-2556f1515a403847be6ce2c1b5be4df8/_.dwarf',
    ]);
    const fat = await withFile(fixture('macho/Example.framework.dSYM/Contents/Resources/DWARF/Example'), readIdentity);
    assert.deepEqual(fat, { type: 'macho', uuids: ['3b4566e4491b3dcf94f5ae51f624dd87', '2556f1515a403847be6ce2c1b5be4df8'] });
  });

  it('computeKeysFromSource names a dump module key by the module, not the dump', async () => {
    const dump = buildMinidump(Platform.MAC_OS_X, [{ path: '/usr/lib/libz.1.dylib', codeView: rsds(Buffer.alloc(16, 0xab), 0, 'libz.1.dylib') }]);
    const keys = await computeKeysFromSource(new BufferSource(dump, 'x.dmp'), 'x.dmp');
    assert.deepEqual(
      keys.map((k) => [k.module, k.key.index]),
      [
        ['/usr/lib/libz.1.dylib', 'libz.1.dylib/mach-uuid-abababababababababababababababab/libz.1.dylib'],
        ['/usr/lib/libz.1.dylib', '_.dwarf/mach-uuid-sym-abababababababababababababababab/_.dwarf'],
      ],
    );
  });
});
