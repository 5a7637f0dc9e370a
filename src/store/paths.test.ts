import assert from 'node:assert/strict';
import { copyFile, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startNginx, type NginxServer } from '../../test/helpers/nginx.js';
import { buildStore } from '../../test/helpers/store.js';
import { makeTempDir, removeDir } from '../../test/helpers/tempdir.js';
import { SymbolClient } from '../client.js';
import { isSymsrvError } from '../errors.js';
import { computeKeys } from '../keys/compute.js';
import { parseKey } from '../keys/key.js';
import { Transport } from '../transport/transport.js';
import { HttpStore } from './http.js';
import { keyFolder, storePath, storeUrl, threeTierPrefix } from './layout.js';

const FIX = new URL('../../../test/fixtures/', import.meta.url).pathname;
const CRASH_GUID_AGE = '3249D99D0C4049318610F4E4FB0B69361';

/** crash.exe with its CodeView PDB path replaced (same record, shorter NUL-terminated path). */
async function peNaming(dir: string, pdbPath: string): Promise<string> {
  const bytes = await readFile(join(FIX, 'pe/crash.exe'));
  const old = Buffer.from('C:\\projects\\breakpad-tools\\windows\\Release\\crash.pdb\0', 'latin1');
  const at = bytes.indexOf(old);
  assert.ok(at > 0 && pdbPath.length < old.length);
  bytes.fill(0, at, at + old.length);
  bytes.write(pdbPath, at, 'latin1');
  const out = join(dir, 'evil.exe');
  await writeFile(out, bytes);
  return out;
}

describe('regression: no path built from file or server input leaves its store (issue 14, defect 1)', () => {
  let tmp: string;
  let nginx: NginxServer;

  before(async () => {
    tmp = await makeTempDir('symsrv-paths-');
    const root = join(tmp, 'www');
    // A three-tier store under a sub-path, and a two-tier one beside it holding the file where an
    // escaping three-tier request would land (/store/..evil.pdb/ID/..evil.pdb).
    await buildStore(join(root, 'sub'), [{ path: join(FIX, 'pdb/crash.pdb'), key: `crash.pdb/${CRASH_GUID_AGE}/crash.pdb` }], { threeTier: true });
    await mkdir(join(root, '..evil.pdb', CRASH_GUID_AGE), { recursive: true });
    await copyFile(join(FIX, 'pdb/crash.pdb'), join(root, '..evil.pdb', CRASH_GUID_AGE, '..evil.pdb'));
    await buildStore(join(root, 'two'), [{ path: join(FIX, 'pdb/crash.pdb'), key: `..evil.pdb/${CRASH_GUID_AGE}/..evil.pdb` }]);
    nginx = await startNginx({ root });
  });
  after(async () => {
    await nginx?.stop();
    await removeDir(tmp);
  });

  test('a CodeView name "..evil.pdb" is a key, but never a three-tier folder', async () => {
    const keys = await computeKeys(await peNaming(tmp, 'C:\\build\\..evil.pdb'));
    const ref = keys.find((k) => k.kind === 'pdbref')!;
    assert.equal(ref.key.index, `..evil.pdb/${CRASH_GUID_AGE}/..evil.pdb`);
    assert.equal(threeTierPrefix(ref.key.name), '');
    assert.throws(() => storePath('/cache', keyFolder(ref.key, true)), (e) => isSymsrvError(e) && e.code === 'E_BAD_KEY');
    assert.throws(() => storeUrl('http://h/store/sub', keyFolder(ref.key, true), ref.key.name), (e) => isSymsrvError(e) && e.code === 'E_BAD_KEY');
    // Two-tier, the same name is one plain folder inside the store.
    assert.equal(storePath('/cache', keyFolder(ref.key, false)), `/cache/..evil.pdb/${CRASH_GUID_AGE}`);
  });

  test('a three-tier cache never gets a file written above it', async () => {
    const keys = await computeKeys(await peNaming(tmp, 'C:\\build\\..evil.pdb'));
    const ref = keys.find((k) => k.kind === 'pdbref')!.key;
    const parent = join(tmp, 'p1');
    const cache = join(parent, 'cache');
    await mkdir(cache, { recursive: true });
    await writeFile(join(cache, 'index2.txt'), '');
    const client = new SymbolClient({ symbolPath: `srv*${cache}*${nginx.url}/store/two` });
    try {
      await client.find(ref);
    } finally {
      await client.close();
    }
    assert.deepEqual(await readdir(parent), ['cache']);
  });

  test('a three-tier HTTP store under a sub-path is never asked for a URL outside it', async () => {
    const transport = new Transport({ retries: 0 });
    const into = join(tmp, 'into');
    try {
      const store = new HttpStore(`${nginx.url}/store/sub`, transport);
      // The store is three-tier (index2.txt): a good key still works.
      const good = await store.lookup(parseKey(`crash.pdb/${CRASH_GUID_AGE}/crash.pdb`), { into });
      assert.equal(good.status, 'found');
      await assert.rejects(store.lookup(parseKey(`..evil.pdb/${CRASH_GUID_AGE}/..evil.pdb`), { into }), (e) => isSymsrvError(e) && e.code === 'E_BAD_KEY');
    } finally {
      await transport.close();
    }
    const log = await readFile(nginx.accessLog, 'utf8');
    // (The two-tier test above fetched /store/two/..evil.pdb/...: a plain folder inside that store.)
    assert.doesNotMatch(log, /GET \/store\/(?!two\/)\S*evil/);
  });

  test('the three-tier folder of a one-letter name is the letter (Windows drops the trailing dot)', () => {
    const key = parseKey('a.dll/5AB380779000/a.dll');
    assert.deepEqual(keyFolder(key, true), ['a', 'a.dll', '5AB380779000']);
    assert.equal(threeTierPrefix('ab.dll'), 'ab');
    assert.equal(threeTierPrefix('a .dll'), 'a');
    assert.equal(threeTierPrefix('.x.pdb'), '.x');
  });
});
