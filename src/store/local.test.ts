import assert from 'node:assert/strict';
import { copyFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import test from 'node:test';
import { makeTempDir, removeDir } from '../../test/helpers/tempdir.js';
import { writePointer } from '../../test/helpers/store.js';
import { parseKey } from '../keys/key.js';
import { LocalStore } from './local.js';

const FIX = new URL('../../../test/fixtures/', import.meta.url).pathname;
const HELLO = parseKey('HelloWorld.pdb/99891B3ED7AE4C3BABFF8A2B4A9B0C431/HelloWorld.pdb');

test('regression: a relative file.ptr PATH is relative to the store, not to the current directory (issue 14, defect 13)', async (t) => {
  const root = await makeTempDir('symsrv-ptr-');
  t.after(() => removeDir(root));
  const store = join(root, 'store');
  await mkdir(join(store, 'files'), { recursive: true });
  await copyFile(join(FIX, 'pdb/HelloWorld.pdb'), join(store, 'files', 'HelloWorld.pdb'));
  await writePointer(store, HELLO.index, 'files/HelloWorld.pdb');
  // The current directory holds no such file (and is not the store).
  assert.notEqual(process.cwd(), store);
  const r = await new LocalStore(store).lookup(HELLO, { into: undefined });
  assert.deepEqual(r, { status: 'found', path: join(store, 'files', 'HelloWorld.pdb'), downloaded: false });
});
