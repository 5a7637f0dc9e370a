import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFile, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative, sep } from 'node:path';
import { isSymsrvError } from '../errors.js';
import { fixture } from '../../test/helpers/readers.js';
import { computeKeys } from './compute.js';

/**
 * `symsrv key name.pd_`: the keys of the file a compressed store file holds. Checked against the
 * store symstore.exe wrote (the folder it filed the cabinet in) and against the file that
 * cabextract (libmspack, an independent expander) takes out of it.
 */
describe('keys of a compressed store file (.pd_)', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'symsrv-keys-cab-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const tempsLeft = async (): Promise<string[]> => (await readdir(tmpdir())).filter((n) => n.startsWith('symsrv-key-'));

  it('a cabinet MAKECAB wrote into a symstore.exe store: the key of the folder it was filed under, as cabextract sees it', async () => {
    const root = join(dir, 'store');
    assert.equal(spawnSync('unzip', ['-q', fixture('symstore/new_store_compressed.zip'), '-d', root]).status, 0);
    const cab = join(root, 'dummyprog.pdb', 'F6301B4562FE4B4DB691192733ECE6B71', 'dummyprog.pd_');
    const before = await tempsLeft();
    const keys = await computeKeys(cab);
    assert.deepEqual(
      keys.map((k) => [k.file, k.kind, k.key.index]),
      [[cab, 'pdb', relative(root, cab).split(sep).slice(0, 2).join('/') + '/dummyprog.pdb']],
    );
    execFileSync('cabextract', ['-q', '-d', join(dir, 'out'), cab]);
    const [plain] = await computeKeys(join(dir, 'out', 'dummyprog.pdb'));
    assert.equal(keys[0]!.key.index, plain!.key.index);
    assert.deepEqual(await tempsLeft(), before, 'the expanded temp file is removed');
  });

  it('a gcab MSZIP cabinet of a PE: the PE key, under the name inside', async () => {
    await copyFile(fixture('pe/crash.exe'), join(dir, 'crash.exe'));
    execFileSync('gcab', ['-c', '-z', 'crash.ex_', 'crash.exe'], { cwd: dir });
    const [packed] = await computeKeys(join(dir, 'crash.ex_'));
    const [plain] = await computeKeys(join(dir, 'crash.exe'));
    assert.equal(packed?.key.index, plain?.key.index);
    assert.equal(packed?.file, join(dir, 'crash.ex_'));
  });

  it('a cabinet of two files: E_INVALID_CONTENT naming them', async () => {
    await copyFile(fixture('pdb/crash.pdb'), join(dir, 'crash.pdb'));
    execFileSync('gcab', ['-c', 'two.cab', 'crash.pdb', 'crash.exe'], { cwd: dir });
    await assert.rejects(computeKeys(join(dir, 'two.cab')), (e) => isSymsrvError(e, 'E_INVALID_CONTENT') && /2 files, not one .*crash\.pdb/.test(e.message));
  });

  it('a cut cabinet: E_BAD_CAB, no temp file left', async () => {
    const before = await tempsLeft();
    await writeFile(join(dir, 'cut.pd_'), Buffer.concat([Buffer.from('MSCF'), Buffer.alloc(60)]));
    await assert.rejects(computeKeys(join(dir, 'cut.pd_')), (e) => isSymsrvError(e) && ['E_BAD_CAB', 'E_TRUNCATED'].includes(e.code));
    assert.deepEqual(await tempsLeft(), before);
  });
});
