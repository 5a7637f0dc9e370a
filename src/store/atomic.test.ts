import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'node:test';
import { cleanStaleTemps, isTempName, tempName, writeAtomically } from './atomic.js';

test('a failed write leaves neither the file nor a temp file', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'symsrv-atomic-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await assert.rejects(
    writeAtomically(dir, 'x.pdb', async (temp) => {
      await writeFile(temp, 'half');
      throw new Error('connection dropped');
    }),
  );
  assert.deepEqual(await readdir(dir), []);
  const ok = await writeAtomically(dir, 'x.pdb', (temp) => writeFile(temp, 'whole'));
  assert.equal(await readFile(ok, 'utf8'), 'whole');
  assert.deepEqual(await readdir(dir), ['x.pdb']);
});

test('temp files of dead writers are cleaned, live and foreign ones are kept', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'symsrv-atomic-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  // A pid that is certainly dead: a child that has exited.
  const dead = spawnSync(process.execPath, ['-e', '0']).pid!;
  const host = hostname().replace(/[^A-Za-z0-9-]/g, '');
  const deadName = `.x.pdb.${host}-${dead}-0123abcd.symsrv-tmp`;
  const liveName = tempName('x.pdb'); // ours: alive
  const foreign = `.x.pdb.otherhost-${dead}-0123abcd.symsrv-tmp`; // another machine on a share
  const oldForeign = `.y.pdb.otherhost-1-0123abcd.symsrv-tmp`;
  for (const n of [deadName, liveName, foreign, oldForeign]) await writeFile(join(dir, n), 'partial');
  const old = new Date(Date.now() - 60 * 60 * 1000);
  await utimes(join(dir, oldForeign), old, old);
  assert.ok(isTempName(liveName));
  assert.equal(await cleanStaleTemps(dir), 2);
  assert.deepEqual((await readdir(dir)).sort(), [foreign, liveName].sort());
});
