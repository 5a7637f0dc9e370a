import assert from 'node:assert/strict';
import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { makeTempDir, removeDir } from '../../test/helpers/tempdir.js';
import { SymsrvError } from '../errors.js';
import { loadTargets, moduleName, selectModules } from './modules.js';
import { buildMinidump, rsds } from '../../test/helpers/dump-readers.js';
import { Platform } from '../formats/minidump/minidump.js';

const FIX = new URL('../../../test/fixtures/', import.meta.url).pathname;

describe('loadTargets', () => {
  let tmp: string;
  before(async () => {
    tmp = await makeTempDir('symsrv-shell-mod-');
    await mkdir(join(tmp, 'bins/sub'), { recursive: true });
    await copyFile(join(FIX, 'pe/crash.exe'), join(tmp, 'bins/crash.exe'));
    await copyFile(join(FIX, 'elf/stripped_executable'), join(tmp, 'bins/stripped_executable'));
    await copyFile(join(FIX, 'pdb/crash.pdb'), join(tmp, 'bins/crash.pdb')); // a symbol file: not a module
    await copyFile(join(FIX, 'pe/HelloWorld.exe'), join(tmp, 'bins/sub/HelloWorld.exe')); // not recursive
    await writeFile(join(tmp, 'bins/notes.txt'), 'not a binary');
    await writeFile(join(tmp, 'bins/broken.dll'), Buffer.concat([Buffer.from('MZ'), Buffer.alloc(100)]));
  });
  after(() => removeDir(tmp));

  test('a folder: its binaries (PE: the PDB key, ELF: the elf-debug key), deferred; other files passed over', async () => {
    const { modules, skipped } = await loadTargets([join(tmp, 'bins')]);
    assert.deepEqual(
      modules.map((m) => [m.name, m.keyKind, m.key?.index, m.state.status]),
      [
        ['crash', 'pdbref', 'crash.pdb/3249D99D0C4049318610F4E4FB0B69361/crash.pdb', 'deferred'],
        ['stripped_executable', 'elf-debug', '_.debug/elf-buildid-sym-126ba1461caf6644cfdd124bfcceeffa81b18897/_.debug', 'deferred'],
      ],
    );
    assert.deepEqual(
      skipped.map((s) => s.file),
      [join(tmp, 'bins/broken.dll')],
    );
  });

  test('the same name twice: the second becomes name_2; selection by module name first, then file name, with wildcards', async () => {
    const { modules } = await loadTargets([join(FIX, 'pe/crash.exe'), join(FIX, 'elf/crash'), join(FIX, 'pe/CrashWithException.exe')]);
    assert.deepEqual(
      modules.map((m) => m.name),
      ['crash', 'crash_2', 'CrashWithException'],
    );
    assert.deepEqual(
      selectModules(modules, 'CRASH').map((m) => m.name),
      ['crash'],
    );
    assert.deepEqual(
      selectModules(modules, 'crash.exe').map((m) => m.name),
      ['crash'],
    );
    assert.deepEqual(
      selectModules(modules, 'crash*').map((m) => m.name),
      ['crash', 'crash_2', 'CrashWithException'],
    );
    assert.deepEqual(selectModules(modules, 'cr?sh.(exe)'), []);
  });

  test('a file named on the command line must be a binary: a PDB, or a file that is not there, is a usage error', async () => {
    await assert.rejects(loadTargets([join(FIX, 'pdb/crash.pdb')]), (e: unknown) => e instanceof SymsrvError && e.code === 'E_USAGE');
    await assert.rejects(loadTargets([join(tmp, 'nope.exe')]), (e: unknown) => e instanceof SymsrvError && e.code === 'E_IO');
    await assert.rejects(loadTargets([join(tmp, 'bins/notes.txt')]), (e: unknown) => e instanceof SymsrvError && e.code === 'E_UNKNOWN_FORMAT');
  });

  test('a crash dump: its modules in module-list order, each with its symbol key; a module without one says why', async () => {
    const { modules } = await loadTargets([join(FIX, 'minidumps/test.dmp'), join(FIX, 'minidumps/crash_macos.dmp')]);
    assert.equal(modules.length, 13 + 43);
    assert.deepEqual(
      [modules[0], modules[1], modules[13]].map((m) => [m!.name, m!.file, m!.keyKind, m!.key?.index, m!.state.status]),
      [
        ['test_app', 'c:\\test_app.exe', 'pdbref', 'test_app.pdb/5A9832E5287241C1838ED98914E9B7FF1/test_app.pdb', 'deferred'],
        ['ntdll', 'C:\\WINDOWS\\system32\\ntdll.dll', 'pdbref', 'ntdll.pdb/36515FB5D04345E491F672FA2E2878C02/ntdll.pdb', 'deferred'],
        ['crash_macos', '/Users/jauer/Coding/breakpad/examples/target/crash_macos', 'macho-dsym', '_.dwarf/mach-uuid-sym-3f58bc3deabe3361b5fb52a676298598/_.dwarf', 'deferred'],
      ],
    );
    assert.deepEqual(selectModules(modules, 'ntdll.dll').map((m) => m.name), ['ntdll'], 'selection by a Windows path\'s file name');
    // An old Breakpad Linux dump records a truncated build-id: that module has no symbol key.
    const old = join(tmp, 'old-linux.dmp');
    await writeFile(old, buildMinidump(Platform.LINUX, [{ path: '/usr/lib/libold.so', codeView: rsds(Buffer.alloc(16, 7), 0, 'libold.so') }]));
    const [m] = (await loadTargets([old])).modules;
    // A recorded path is outside text: control characters reach the screen escaped.
    const evil = join(tmp, 'evil.dmp');
    await writeFile(evil, buildMinidump(Platform.WIN32_NT, [{ path: 'C:\\x\\ev\u001b[2Jil\u009b.dll', timestamp: 1, sizeOfImage: 0x1000 }]));
    const [e] = (await loadTargets([evil])).modules;
    assert.deepEqual([e!.name, e!.file], ['ev\\x1b[2Jil\\x9b', 'C:\\x\\ev\\x1b[2Jil\\x9b.dll']);
    assert.deepEqual([m!.name, m!.key, m!.state], ['libold', undefined, { status: 'error', message: 'no symbol key: the RSDS record holds a truncated build-id (an old Breakpad Linux client): no ELF key can be built' }]);
  });

  test('a folder with a dump and a Mach-O binary: the binary is a module, the dump is not', async () => {
    const dir = join(tmp, 'mixed');
    await mkdir(dir, { recursive: true });
    await copyFile(join(FIX, 'minidumps/test.dmp'), join(dir, 'test.dmp'));
    await copyFile(join(FIX, 'macho/crash'), join(dir, 'crash'));
    const { modules, skipped } = await loadTargets([dir]);
    assert.deepEqual(
      modules.map((m) => [m.name, m.keyKind, m.key?.index]),
      [['crash', 'macho-dsym', '_.dwarf/mach-uuid-sym-67e9247c814e392ba027dbde6748fcbf/_.dwarf']],
    );
    assert.deepEqual(skipped, []);
  });

  test('module names: the image name without its last extension', () => {
    assert.equal(moduleName('C:/w/ntdll.dll'), 'ntdll');
    assert.equal(moduleName('/lib/libc.so.6'), 'libc.so');
    assert.equal(moduleName('/bin/ls'), 'ls');
    assert.equal(moduleName('/x/.hidden'), '.hidden');
  });
});
