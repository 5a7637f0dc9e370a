import assert from 'node:assert/strict';
import { copyFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import test from 'node:test';
import { makeTempDir, removeDir } from '../../test/helpers/tempdir.js';
import { isSymsrvError } from '../errors.js';
import { parseKey } from '../keys/key.js';
import { FolderStore } from './folder.js';
import { checkContent } from './validate.js';

const PPDB = new URL('../../../test/fixtures/portable-pdb/', import.meta.url).pathname;
// Keys as `symsrv key` prints them for the two fixtures (GUIDs of their #Pdb streams).
const SENTRY = parseKey('Sentry.Samples.Console.Basic.pdb/526F365F4D8D4FA8B370EAE9A9136DE4FFFFFFFF/Sentry.Samples.Console.Basic.pdb');
const OTHER_ID = 'CCBCACCEDCA5467BAE4059282CE78BCEFFFFFFFF';

test('regression: a portable PDB with another GUID is refused (issue 14, defect 9)', async () => {
  await checkContent(join(PPDB, 'Sentry.Samples.Console.Basic.pdb'), SENTRY);
  const wrong = parseKey(`Sentry.Samples.Console.Basic.pdb/${OTHER_ID}/Sentry.Samples.Console.Basic.pdb`);
  await assert.rejects(checkContent(join(PPDB, 'Sentry.Samples.Console.Basic.pdb'), wrong), (e) => {
    assert.ok(isSymsrvError(e) && e.code === 'E_INVALID_CONTENT');
    assert.match(e.message, /CCBCACCEDCA5467BAE4059282CE78BCE/);
    assert.match(e.message, /526F365F4D8D4FA8B370EAE9A9136DE4/);
    return true;
  });
});

test('regression: a plain folder passes over a portable PDB of another build', async (t) => {
  const dir = await makeTempDir('symsrv-ppdb-');
  t.after(() => removeDir(dir));
  // The right name, the wrong build at the top; the right build in <dir>/pdb/.
  await copyFile(join(PPDB, 'ppdb-sourcelink-sample.pdb'), join(dir, SENTRY.name));
  await mkdir(join(dir, 'pdb'));
  await copyFile(join(PPDB, 'Sentry.Samples.Console.Basic.pdb'), join(dir, 'pdb', SENTRY.name));
  const results: string[] = [];
  const r = await new FolderStore(dir).lookup(SENTRY, { into: undefined, onProbe: (e) => results.push(e.result) });
  assert.deepEqual(r, { status: 'found', path: join(dir, 'pdb', SENTRY.name), downloaded: false });
  assert.deepEqual(results, ['mismatch', 'found']);
});
