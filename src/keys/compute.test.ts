import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, mkdtemp, open, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { basename, join, relative } from 'node:path';
import { SymsrvError } from '../errors.js';
import { BufferSource, withFile } from '../io/source.js';
import {
  buildElfWithDebug,
  buildPePdb,
  fixture,
  pdbutilStreamDirectory,
  pdbutilSummary,
  pdbutilYaml,
  readelfBuildId,
  readobjPe,
  run,
} from '../../test/helpers/readers.js';
import { computeKeys, computeKeysFromSource, readIdentity, type ComputedKey } from './compute.js';
import { parseKey } from './key.js';
import { detectFormat, type FileFormat } from '../formats/detect.js';

/**
 * The keys of every fixture, copied from test/fixtures/README.md (the facts there were read by
 * llvm-readobj, llvm-pdbutil and readelf; the md5 build-id is padded as SSQP and dotnet/symstore do).
 * docs/keys.md shows the same examples.
 */
const README_KEYS: Record<string, string[]> = {
  'pe/HelloWorld.exe': [
    'pe HelloWorld.exe/577F59198000/HelloWorld.exe',
    'pdbref HelloWorld.pdb/99891B3ED7AE4C3BABFF8A2B4A9B0C431/HelloWorld.pdb',
  ],
  'pe/System.Diagnostics.StackTrace.dll': [
    'pe System.Diagnostics.StackTrace.dll/595CD91B35a00/System.Diagnostics.StackTrace.dll',
    'pdbref System.Diagnostics.StackTrace.ni.pdb/3CD5A68A9F2CD99B169D074E6E956D4FFFFFFFFF/System.Diagnostics.StackTrace.ni.pdb',
    'pdbref System.Diagnostics.StackTrace.pdb/8B2E8CF443144806982AB7D904876A50FFFFFFFF/System.Diagnostics.StackTrace.pdb',
  ],
  'pe/System.ComponentModel.EventBasedAsync.dll': [
    'pe System.ComponentModel.EventBasedAsync.dll/9757F3A636c00/System.ComponentModel.EventBasedAsync.dll',
    'pdbref System.ComponentModel.EventBasedAsync.pdb/99D3F272C6A8429BA694647A7912D178FFFFFFFF/System.ComponentModel.EventBasedAsync.pdb',
  ],
  'pe/crash.exe': ['pe crash.exe/5AB380779000/crash.exe', 'pdbref crash.pdb/3249D99D0C4049318610F4E4FB0B69361/crash.pdb'],
  'pe/CrashWithException.exe': [
    'pe CrashWithException.exe/5C9E09599000/CrashWithException.exe',
    'pdbref CrashWithException.pdb/F535C5FB2AE84BB8AA206C30BE566C5A1/CrashWithException.pdb',
  ],
  'pe/arm64/test.exe': ['pe test.exe/69FE3F7D37000/test.exe'],
  'portable-pdb/dir1/System.Threading.Thread.dll': [
    'pe System.Threading.Thread.dll/5CB7AC29b000/System.Threading.Thread.dll',
    'pdbref System.Threading.Thread.ni.pdb/3ED9F1335F2B74FDDC09C50A1C5902191/System.Threading.Thread.ni.pdb',
    'pdbref System.Threading.Thread.pdb/A43B38726E6A4B3CB1691F35F0D6CC48FFFFFFFF/System.Threading.Thread.pdb',
  ],
  'portable-pdb/dir2/System.Threading.Thread.dll': [
    'pe System.Threading.Thread.dll/5D0915DDb000/System.Threading.Thread.dll',
    'pdbref System.Threading.Thread.ni.pdb/607F8E6A8D376B0BE7F87C80D89D9EAB1/System.Threading.Thread.ni.pdb',
    'pdbref System.Threading.Thread.pdb/E616B67F817A470684DB2088CBB81596FFFFFFFF/System.Threading.Thread.pdb',
  ],
  'portable-pdb/ppdb-sourcelink-sample.dll': [
    'pe ppdb-sourcelink-sample.dll/BBD629D48000/ppdb-sourcelink-sample.dll',
    'pdbref ppdb-sourcelink-sample.pdb/CCBCACCEDCA5467BAE4059282CE78BCEFFFFFFFF/ppdb-sourcelink-sample.pdb',
  ],
  'portable-pdb/Sentry.Samples.Console.Basic.dll': [
    'pe Sentry.Samples.Console.Basic.dll/9FF5CAA48000/Sentry.Samples.Console.Basic.dll',
    'pdbref Sentry.Samples.Console.Basic.pdb/D8EB7DCA48834B10A1F7048EA1EA388BFFFFFFFF/Sentry.Samples.Console.Basic.pdb',
  ],
  'portable-pdb/Sentry.Samples.Console.Basic-embedded-ppdb.dll': [
    'pe Sentry.Samples.Console.Basic-embedded-ppdb.dll/F8DFAA10a000/Sentry.Samples.Console.Basic-embedded-ppdb.dll',
    'pdbref Sentry.Samples.Console.Basic.pdb/D8EB7DCA48834B10A1F7048EA1EA388BFFFFFFFF/Sentry.Samples.Console.Basic.pdb',
  ],
  'pdb/HelloWorld.pdb': ['pdb HelloWorld.pdb/99891B3ED7AE4C3BABFF8A2B4A9B0C431/HelloWorld.pdb'],
  'pdb/crash.pdb': ['pdb crash.pdb/3249D99D0C4049318610F4E4FB0B69361/crash.pdb'],
  'pdb/CrashWithException.pdb': ['pdb CrashWithException.pdb/F535C5FB2AE84BB8AA206C30BE566C5A1/CrashWithException.pdb'],
  'portable-pdb/dir1/System.Threading.Thread.pdb': [
    'pdb System.Threading.Thread.pdb/A43B38726E6A4B3CB1691F35F0D6CC48FFFFFFFF/System.Threading.Thread.pdb',
  ],
  'portable-pdb/dir2/System.Threading.Thread.pdb': [
    'pdb System.Threading.Thread.pdb/E616B67F817A470684DB2088CBB81596FFFFFFFF/System.Threading.Thread.pdb',
  ],
  'portable-pdb/ppdb-sourcelink-sample.pdb': [
    'pdb ppdb-sourcelink-sample.pdb/CCBCACCEDCA5467BAE4059282CE78BCEFFFFFFFF/ppdb-sourcelink-sample.pdb',
  ],
  'portable-pdb/Sentry.Samples.Console.Basic.pdb': [
    'pdb Sentry.Samples.Console.Basic.pdb/526F365F4D8D4FA8B370EAE9A9136DE4FFFFFFFF/Sentry.Samples.Console.Basic.pdb',
  ],
  'elf/crash': [
    'elf crash/elf-buildid-f1c3bcc0279865fe3058404b2831d9e64135386c/crash',
    'elf-debug _.debug/elf-buildid-sym-f1c3bcc0279865fe3058404b2831d9e64135386c/_.debug',
  ],
  'elf/stripped_executable': [
    'elf stripped_executable/elf-buildid-126ba1461caf6644cfdd124bfcceeffa81b18897/stripped_executable',
    'elf-debug _.debug/elf-buildid-sym-126ba1461caf6644cfdd124bfcceeffa81b18897/_.debug',
  ],
  'elf/symbolized_executable': ['elf-debug _.debug/elf-buildid-sym-126ba1461caf6644cfdd124bfcceeffa81b18897/_.debug'],
  'elf/md5_build_id': [
    'elf md5_build_id/elf-buildid-001ba81f23966cf77e40bcbb0701cd3400000000/md5_build_id',
    'elf-debug _.debug/elf-buildid-sym-001ba81f23966cf77e40bcbb0701cd3400000000/_.debug',
  ],
  'elf/renamed_build_id_section': [
    'elf renamed_build_id_section/elf-buildid-1bd6a199dcb6f234558d9439cfcbba2727f1e1d9/renamed_build_id_section',
    'elf-debug _.debug/elf-buildid-sym-1bd6a199dcb6f234558d9439cfcbba2727f1e1d9/_.debug',
  ],
  'elf/apphost': [
    'elf apphost/elf-buildid-316d55471a8d5ebd6f2cb0631f0020518ab13dc0/apphost',
    'elf-debug _.debug/elf-buildid-sym-316d55471a8d5ebd6f2cb0631f0020518ab13dc0/_.debug',
  ],
  'elf/libcoreclrtraceptprovider.so.dbg': ['elf-debug _.debug/elf-buildid-sym-ce4ce0558d878a05754dff246ccea2a70a1db3a8/_.debug'],
};

const show = (keys: ComputedKey[]): string[] => keys.map((k) => `${k.kind} ${k.key.index}`);

async function expectCode(p: Promise<unknown>, code: string, label: string): Promise<SymsrvError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof SymsrvError, `${label}: expected a SymsrvError, got ${String(err)}`);
    assert.equal(err.code, code, `${label}: ${err.message}`);
    return err;
  }
  assert.fail(`${label}: expected ${code}, but it was accepted`);
}

/** Key text built from tool output, without key.ts: %08X timestamp + %x size; GUID Data1-3 reversed. */
const hex8 = (n: number): string => n.toString(16).toUpperCase().padStart(8, '0');
function guidFromFileOrder(b: Buffer): string {
  const rev = (s: number, e: number): string => Buffer.from(b.subarray(s, e)).reverse().toString('hex');
  return (rev(0, 4) + rev(4, 6) + rev(6, 8) + b.subarray(8).toString('hex')).toUpperCase();
}

describe('computeKeys: every fixture gives exactly the keys of the fixtures README', () => {
  for (const [rel, expected] of Object.entries(README_KEYS)) {
    it(rel, async () => {
      const keys = await computeKeys(fixture(rel));
      assert.deepEqual(show(keys), expected);
      for (const k of keys) assert.equal(k.file, fixture(rel));
    });
  }
  it('no PE, PDB or ELF fixture is left out of this table', async () => {
    const files = (await readdir(fixture(''), { recursive: true, withFileTypes: true }))
      .filter((d) => d.isFile())
      .map((d) => relative(fixture(''), join(d.parentPath ?? d.path, d.name)))
      .filter((rel) => /^(pe|pdb|elf|portable-pdb)\//.test(rel));
    assert.deepEqual(files.sort(), Object.keys(README_KEYS).sort());
  });
  it('matching pairs: the image names the PDB key the PDB gives', async () => {
    for (const [image, pdb] of [
      ['pe/HelloWorld.exe', 'pdb/HelloWorld.pdb'],
      ['pe/crash.exe', 'pdb/crash.pdb'],
      ['pe/CrashWithException.exe', 'pdb/CrashWithException.pdb'],
      ['portable-pdb/dir1/System.Threading.Thread.dll', 'portable-pdb/dir1/System.Threading.Thread.pdb'],
      ['portable-pdb/ppdb-sourcelink-sample.dll', 'portable-pdb/ppdb-sourcelink-sample.pdb'],
    ]) {
      const refs = (await computeKeys(fixture(image!))).filter((k) => k.kind === 'pdbref').map((k) => k.key.index);
      const [own] = await computeKeys(fixture(pdb!));
      assert.ok(refs.includes(own!.key.index), `${image} -> ${pdb}`);
    }
  });
  it('the Sentry sample dll and pdb do NOT match (README: deliberate mismatch)', async () => {
    const refs = (await computeKeys(fixture('portable-pdb/Sentry.Samples.Console.Basic.dll'))).map((k) => k.key.id);
    const [own] = await computeKeys(fixture('portable-pdb/Sentry.Samples.Console.Basic.pdb'));
    assert.ok(!refs.includes(own!.key.id));
  });
});

describe('readIdentity: what a fetched file shows equals what its key asks for', () => {
  for (const rel of Object.keys(README_KEYS)) {
    it(rel, async () => {
      const keys = await computeKeys(fixture(rel));
      const id = await withFile(fixture(rel), readIdentity);
      // The file's own key (not the PDBs an image refers to) must accept the file.
      for (const k of keys.filter((k) => k.kind !== 'pdbref')) {
        assert.deepEqual(id, k.key.identity, k.key.index);
        assert.deepEqual(parseKey(k.key.index).identity, id, `parseKey ${k.key.index}`);
      }
    });
  }
  it('undefined for a file of no known format, and for an ELF without build-id', async () => {
    assert.equal(await readIdentity(new BufferSource(Buffer.from('<html>not found</html>'), 'x.pdb')), undefined);
    assert.equal(await readIdentity(new BufferSource(Buffer.alloc(0), 'empty')), undefined);
  });
  it('a PE fetched for a PDB key does not match it', async () => {
    const id = await withFile(fixture('pe/crash.exe'), readIdentity);
    const [pdb] = await computeKeys(fixture('pdb/crash.pdb'));
    assert.notDeepEqual(id, pdb!.key.identity);
  });
});

describe('computeKeys on files built here, against llvm-readobj / llvm-pdbutil / readelf', () => {
  let dir = '';
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'symsrv-keys-'));
  });
  after(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  for (const o of [
    { arch: 'x86', kind: 'exe', name: 'k32' },
    { arch: 'x64', kind: 'exe', name: 'k64' },
    { arch: 'x86', kind: 'dll', name: 'k32d' },
    { arch: 'x64', kind: 'dll', name: 'k64d' },
    { arch: 'x64', kind: 'exe', name: 'kalt', pdbAltPath: true },
    { arch: 'x86', kind: 'dll', name: 'k8k', pdbPageSize: 8192 },
  ] as const) {
    it(`${o.arch} ${o.kind}${'pdbAltPath' in o ? ' /pdbaltpath:%_PDB%' : ''}${'pdbPageSize' in o ? ' /pdbpagesize:8192' : ''}`, async () => {
      const { image, pdb } = buildPePdb(dir, o);
      const ro = readobjPe(image);
      const cv = ro.debug.find((e) => e.pdb)!.pdb!;
      const sum = pdbutilSummary(pdb);
      const yaml = pdbutilYaml(pdb);
      const imageName = basename(image);
      const pdbName = basename(pdb);
      assert.deepEqual(show(await computeKeys(image)), [
        `pe ${imageName}/${hex8(ro.timestamp)}${ro.sizeOfImage.toString(16)}/${imageName}`,
        `pdbref ${pdbName}/${guidFromFileOrder(cv.guid)}${cv.age.toString(16)}/${pdbName}`,
      ]);
      assert.deepEqual(show(await computeKeys(pdb)), [`pdb ${pdbName}/${sum.guid}${yaml.dbiAge.toString(16)}/${pdbName}`]);
      // The image and its PDB agree.
      assert.equal((await computeKeys(image))[1]!.key.index, (await computeKeys(pdb))[0]!.key.index);
    });
  }

  it('a PDB whose info-stream age was changed keeps the DBI age in its key', async () => {
    const { image, pdb } = buildPePdb(dir, { arch: 'x64', kind: 'exe', name: 'agediff' });
    const before = (await computeKeys(pdb))[0]!.key.index;
    const infoBlock = pdbutilStreamDirectory(pdb).blocks[1]![0]!;
    const fh = await open(pdb, 'r+');
    await fh.write(Buffer.from([5, 0, 0, 0]), 0, 4, infoBlock * pdbutilSummary(pdb).blockSize + 8);
    await fh.close();
    const yaml = pdbutilYaml(pdb);
    assert.deepEqual([yaml.infoAge, yaml.dbiAge], [5, 1], 'llvm-pdbutil sees the two ages differ');
    const [key] = await computeKeys(pdb);
    assert.equal(key!.key.index, before);
    assert.ok(key!.key.id.endsWith('1'));
    assert.equal((await computeKeys(image))[1]!.key.index, before, 'the image still names this PDB');
    assert.deepEqual(await withFile(pdb, readIdentity), key!.key.identity);
  });

  it('gcc -g -Wl,--build-id, objcopy --only-keep-debug, objcopy --strip-debug', async () => {
    const b = await buildElfWithDebug(dir);
    const id = readelfBuildId(b.withDebug)!;
    assert.match(id, /^[0-9a-f]{40}$/);
    assert.equal(readelfBuildId(b.debug), id);
    const debugKey = `elf-debug _.debug/elf-buildid-sym-${id}/_.debug`;
    assert.deepEqual(show(await computeKeys(b.withDebug)), [debugKey], 'DWARF inside: a debug file');
    assert.deepEqual(show(await computeKeys(b.debug)), [debugKey]);
    assert.deepEqual(show(await computeKeys(b.stripped)), [`elf hello.stripped/elf-buildid-${id}/hello.stripped`, debugKey]);
  });

  it('an ELF without build-id has no keys (not an error)', async () => {
    await writeFile(join(dir, 'n.c'), 'int main(void) { return 0; }\n');
    const out = join(dir, 'noid');
    run('gcc', ['-Wl,--build-id=none', join(dir, 'n.c'), '-o', out]);
    assert.deepEqual(await computeKeys(out), []);
    assert.equal(await withFile(out, readIdentity), undefined);
  });

  it('/bin/ls: the system binary its readelf build-id', async () => {
    const id = readelfBuildId('/bin/ls');
    if (id === undefined) {
      assert.deepEqual(await computeKeys('/bin/ls'), []);
      return;
    }
    const padded = id.padEnd(40, '0');
    assert.deepEqual(show(await computeKeys('/bin/ls')), [`elf ls/elf-buildid-${padded}/ls`, `elf-debug _.debug/elf-buildid-sym-${padded}/_.debug`]);
  });

  it('computeKeysFromSource names keys after the given file name', async () => {
    const bytes = await readFile(fixture('pe/crash.exe'));
    const keys = await computeKeysFromSource(new BufferSource(bytes, 'mem'), 'C:\\dumps\\renamed.exe');
    assert.equal(keys[0]!.key.index, 'renamed.exe/5AB380779000/renamed.exe');
    assert.equal(keys[0]!.file, 'C:\\dumps\\renamed.exe');
  });

  describe('bad input', () => {
    it('a zero-length file: E_UNKNOWN_FORMAT', async () => {
      const p = join(dir, 'empty.exe');
      await writeFile(p, '');
      const err = await expectCode(computeKeys(p), 'E_UNKNOWN_FORMAT', 'empty');
      assert.match(err.message, /empty\.exe/);
    });
    it('random bytes named x.pdb: E_UNKNOWN_FORMAT', async () => {
      const p = join(dir, 'x.pdb');
      const b = randomBytes(4096);
      b[0] = 0; // no magic can start with 0
      await writeFile(p, b);
      const err = await expectCode(computeKeys(p), 'E_UNKNOWN_FORMAT', 'random');
      assert.equal(err.subject, p);
    });
    it('a one-byte "M": E_UNKNOWN_FORMAT', async () => {
      await expectCode(computeKeysFromSource(new BufferSource(Buffer.from('M'), 'm'), 'm.exe'), 'E_UNKNOWN_FORMAT', 'M');
    });
    it('"MZ" alone: a PE that is truncated', async () => {
      await expectCode(computeKeysFromSource(new BufferSource(Buffer.from('MZ'), 'mz'), 'mz.exe'), 'E_TRUNCATED', 'MZ');
    });
    it('a cut CAB (compressed .pd_): E_BAD_CAB (keys of good ones: compressed.test.ts)', async () => {
      const cab = Buffer.concat([Buffer.from('MSCF'), Buffer.alloc(60)]);
      await expectCode(computeKeysFromSource(new BufferSource(cab, 'c'), 'crash.pd_'), 'E_BAD_CAB', 'cab');
    });
    it('a missing file: E_IO', async () => {
      await expectCode(computeKeys(join(dir, 'nope.exe')), 'E_IO', 'missing');
    });
    it('a truncated PE fixture: E_TRUNCATED naming the file', async () => {
      const p = join(dir, 'cut.exe');
      await copyFile(fixture('pe/crash.exe'), p);
      const fh = await open(p, 'r+');
      await fh.truncate(300);
      await fh.close();
      const err = await expectCode(computeKeys(p), 'E_TRUNCATED', 'cut');
      assert.match(err.message, /cut\.exe/);
    });
    it('a corrupt PDB superblock: E_BAD_PDB', async () => {
      const b = Buffer.from(await readFile(fixture('pdb/HelloWorld.pdb')));
      b.writeUInt32LE(1000, 32);
      await expectCode(computeKeysFromSource(new BufferSource(b, 'bad.pdb'), 'bad.pdb'), 'E_BAD_PDB', 'superblock');
    });
    it('a portable PDB without #Pdb stream: E_BAD_PDB', async () => {
      const b = Buffer.from(await readFile(fixture('portable-pdb/ppdb-sourcelink-sample.pdb')));
      const at = b.indexOf('#Pdb');
      b.write('#Xdb', at, 'latin1');
      await expectCode(computeKeysFromSource(new BufferSource(b, 'p.pdb'), 'p.pdb'), 'E_BAD_PDB', '#Pdb');
    });
  });
});

describe('detectFormat', () => {
  const cases: [string, FileFormat][] = [
    ['pe/crash.exe', 'pe'],
    ['pdb/crash.pdb', 'pdb'],
    ['portable-pdb/ppdb-sourcelink-sample.pdb', 'portable-pdb'],
    ['elf/apphost', 'elf'],
    ['minidumps/test.dmp', 'minidump'],
    ['macho/crash', 'macho'],
    ['macho/Example.framework.dSYM/Contents/Resources/DWARF/Example', 'macho'],
  ];
  for (const [rel, format] of cases) {
    it(`${rel} is ${format}`, async () => {
      assert.equal(await withFile(fixture(rel), detectFormat), format);
    });
  }
  for (const [label, bytes, format] of [
    ['empty', '', 'unknown'],
    ['one byte', 'M', 'unknown'],
    ['MZ only', 'MZ', 'pe'],
    ['CAB', 'MSCF\0\0\0\0', 'cab'],
    ['a PDB 2.0 (JG) header', 'Microsoft C/C++ program database 2.00\r\n\x1aJG\0\0', 'unknown'],
    ['MSF magic cut short', 'Microsoft C/C++ MSF 7.00\r\n', 'unknown'],
    ['HTML', '<!DOCTYPE html>', 'unknown'],
  ] as const) {
    it(`${label} is ${format}, without throwing`, async () => {
      assert.equal(await detectFormat(new BufferSource(Buffer.from(bytes, 'latin1'), label)), format);
    });
  }
});

describe('computeKeysFromSource on mutated fixtures: success or a SymsrvError, never another exception', () => {
  // A fixed-seed generator, so a failure names a reproducible case.
  let seed = 20240601;
  const rnd = (): number => {
    seed = (Math.imul(seed, 1103515245) + 12345) & 0x7fffffff;
    return seed / 0x80000000;
  };
  for (const rel of ['pe/HelloWorld.exe', 'pe/System.Diagnostics.StackTrace.dll', 'pdb/HelloWorld.pdb', 'elf/apphost', 'elf/stripped_executable', 'portable-pdb/ppdb-sourcelink-sample.pdb', 'minidumps/test.dmp', 'minidumps/crash_linux.dmp', 'macho/crash', 'macho/Example.framework.dSYM/Contents/Resources/DWARF/Example']) {
    it(rel, async () => {
      const orig = await readFile(fixture(rel));
      for (let n = 0; n < 400; n++) {
        const b = Buffer.from(orig);
        const edits: string[] = [];
        for (let j = 1 + Math.floor(rnd() * 3); j > 0; j--) {
          // Mostly the headers, where every offset and count is.
          const pos = Math.floor(rnd() * (rnd() < 0.7 ? Math.min(1024, b.length - 4) : b.length - 4));
          const value = [0, 0xffffffff, 0x7fffffff, 1, b.length, Math.floor(rnd() * 2 ** 32)][Math.floor(rnd() * 6)]!;
          b.writeUInt32LE(value, pos);
          edits.push(`u32 0x${value.toString(16)} at 0x${pos.toString(16)}`);
        }
        try {
          await computeKeysFromSource(new BufferSource(b, rel), basename(rel));
        } catch (err) {
          assert.ok(err instanceof SymsrvError, `${rel} with ${edits.join(', ')}: ${String((err as Error).stack)}`);
        }
      }
    });
  }
});

describe('a PE whose recorded PDB name cannot be a key', () => {
  it('keeps the image key and drops only that reference', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'symsrv-badref-'));
    try {
      const bytes = Buffer.from(await readFile(fixture('pe/crash.exe')));
      // The CodeView record ends with the recorded path ...\crash.pdb: make its file name "..".
      const at = bytes.indexOf(Buffer.from('crash.pdb\0', 'latin1'));
      assert.ok(at > 0, 'the recorded PDB path is in the image');
      Buffer.from('..\0', 'latin1').copy(bytes, at);
      const path = join(dir, 'crash.exe');
      await writeFile(path, bytes);
      const keys = await computeKeys(path);
      assert.deepEqual(
        keys.map((k) => `${k.kind} ${k.key.index}`),
        ['pe crash.exe/5AB380779000/crash.exe'],
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('real PE images from Debian packages', () => {
  // systemd-boot-efi ships a PE32+ EFI application (installed by the test command).
  const EFI = '/usr/lib/systemd/boot/efi/systemd-bootx64.efi';
  it('systemd-bootx64.efi: the image key equals what llvm-readobj reads', async () => {
    await readFile(EFI).catch(() => {
      throw new Error(`${EFI} is missing: apt-get install systemd-boot-efi (npm run test:all does)`);
    });
    const ro = readobjPe(EFI);
    const keys = await computeKeys(EFI);
    const expected = `systemd-bootx64.efi/${ro.timestamp.toString(16).toUpperCase().padStart(8, '0')}${ro.sizeOfImage.toString(16)}/systemd-bootx64.efi`;
    assert.equal(keys[0]?.kind, 'pe');
    assert.equal(keys[0]?.key.index, expected);
    // every CodeView entry llvm-readobj sees becomes one pdbref
    assert.equal(keys.filter((k) => k.kind === 'pdbref').length, ro.debug.filter((d) => d.pdb).length);
  });
});
