import assert from 'node:assert/strict';
import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { makeTempDir, removeDir } from '../../test/helpers/tempdir.js';
import { SymsrvError } from '../errors.js';
import { loadTargets, moduleName, selectModules } from './modules.js';

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

  test('module names: the image name without its last extension', () => {
    assert.equal(moduleName('C:/w/ntdll.dll'), 'ntdll');
    assert.equal(moduleName('/lib/libc.so.6'), 'libc.so');
    assert.equal(moduleName('/bin/ls'), 'ls');
    assert.equal(moduleName('/x/.hidden'), '.hidden');
  });
});
