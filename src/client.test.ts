import assert from 'node:assert/strict';
import { copyFile, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { NginxServer } from '../test/helpers/nginx.js';
import { SymbolClient } from './client.js';
import { isSymsrvError } from './errors.js';
import { CRASH, CWE, HELLO, startFixtureStore, type FixtureStore } from '../test/helpers/fixture-store.js';

const FIX = new URL('../../test/fixtures/', import.meta.url).pathname;

async function requestsFor(log: string, fragment: string): Promise<number> {
  return (await readFile(log, 'utf8')).split('\n').filter((l) => l.includes(fragment)).length;
}

describe('SymbolClient over a symbol path', () => {
  let store: FixtureStore;
  let tmp: string;
  let nginx: NginxServer;

  before(async () => {
    store = await startFixtureStore('symsrv-client-');
    ({ tmp, nginx } = store);
  });
  after(() => store?.stop());

  test('srv*A*B*url: a file found upstream fills B and A; the next lookup ends in A with no request', async () => {
    const a = join(tmp, 't1/a');
    const b = join(tmp, 't1/b');
    const client = new SymbolClient({ symbolPath: `srv*${a}*${b}*${nginx.url}/store` });
    try {
      const r = await client.find(CRASH);
      assert.equal(r.status, 'found');
      assert.equal(r.status === 'found' && r.path, join(a, CRASH));
      assert.equal(r.status === 'found' && r.downloaded, true);
      const original = await readFile(join(FIX, 'pdb/crash.pdb'));
      assert.deepEqual(await readFile(join(a, CRASH)), original);
      assert.deepEqual(await readFile(join(b, CRASH)), original);
      const before = await requestsFor(nginx.accessLog, '/store/crash.pdb/');
      const again = await client.find(CRASH);
      assert.equal(again.status === 'found' && again.downloaded, false);
      assert.equal(again.status === 'found' && again.path, join(a, CRASH));
      assert.equal(await requestsFor(nginx.accessLog, '/store/crash.pdb/'), before);
    } finally {
      await client.close();
    }
  });

  test('a file found in a middle store is copied into the stores in front of it', async () => {
    const a = join(tmp, 't2/a');
    const b = join(tmp, 't2/b');
    await mkdir(join(b, 'HelloWorld.pdb', '99891B3ED7AE4C3BABFF8A2B4A9B0C431'), { recursive: true });
    await copyFile(join(FIX, 'pdb/HelloWorld.pdb'), join(b, HELLO));
    const client = new SymbolClient({ symbolPath: `srv*${a}*${b}*${nginx.url}/store` });
    try {
      const r = await client.find(HELLO);
      assert.equal(r.status === 'found' && r.path, join(a, HELLO));
      assert.equal(r.status === 'found' && r.store, b);
      assert.equal(await requestsFor(nginx.accessLog, '/HelloWorld.pdb'), 0);
    } finally {
      await client.close();
    }
  });

  test('a downstream store that cannot be written is skipped; the next one gets the file', async () => {
    const blocker = join(tmp, 't3/not-a-folder');
    await mkdir(join(tmp, 't3'), { recursive: true });
    await writeFile(blocker, 'a file where a store folder should be');
    const good = join(tmp, 't3/good');
    const client = new SymbolClient({ symbolPath: `srv*${blocker}*${good}*${nginx.url}/store` });
    try {
      const r = await client.find(CWE);
      assert.equal(r.status, 'found', JSON.stringify(r));
      assert.equal(r.status === 'found' && r.path, join(good, CWE));
    } finally {
      await client.close();
    }
  });

  test('elements are tried in order; plain folders are checked against the key; cache* fills a cache', async () => {
    const folder = join(tmp, 't4/folder');
    const cache = join(tmp, 't4/cache');
    await mkdir(folder, { recursive: true });
    // a HelloWorld.pdb of another build named like crash.pdb: passed over
    await copyFile(join(FIX, 'pdb/HelloWorld.pdb'), join(folder, 'crash.pdb'));
    await mkdir(join(folder, 'symbols', 'pdb'), { recursive: true });
    await copyFile(join(FIX, 'pdb/CrashWithException.pdb'), join(folder, 'symbols', 'pdb', 'CrashWithException.pdb'));
    const client = new SymbolClient({ symbolPath: ` ; ${join(tmp, 't4/empty')} ; cache*${cache};${folder};srv*${join(tmp, 't4/srv')}*${nginx.url}/store` });
    try {
      const viaFolder = await client.find(CWE);
      assert.equal(viaFolder.status === 'found' && viaFolder.store, folder);
      assert.deepEqual(await readFile(join(cache, CWE)), await readFile(join(FIX, 'pdb/CrashWithException.pdb')));
      const viaServer = await client.find(CRASH);
      assert.equal(viaServer.status === 'found' && viaServer.store, `${nginx.url}/store`);
      // the later srv element is behind cache* too
      assert.ok((await readdir(join(cache, 'crash.pdb'))).length === 1);
    } finally {
      await client.close();
    }
  });

  test('missing everywhere is a result, fetch() turns it into E_NOT_FOUND', async () => {
    const client = new SymbolClient({ symbolPath: `srv*${join(tmp, 't5')}*${nginx.url}/store` });
    try {
      const key = 'nothere.pdb/0123456789ABCDEF0123456789ABCDEF1/nothere.pdb';
      assert.deepEqual(await client.find(key), { key, status: 'missing' });
      await assert.rejects(client.fetch(key), (e) => isSymsrvError(e, 'E_NOT_FOUND'));
    } finally {
      await client.close();
    }
  });

  test('a key with .. / \\ or NUL is refused before any path or URL is built', async () => {
    const client = new SymbolClient({ symbolPath: `srv*${join(tmp, 't6')}*${nginx.url}/store` });
    const before = (await readFile(nginx.accessLog, 'utf8')).length;
    try {
      for (const bad of ['../x.pdb/1/../x.pdb', 'x.pdb/../x.pdb', 'a\\b.pdb/1/a\\b.pdb', 'x.pdb/1\0/x.pdb', 'x.pdb/1/y.pdb', 'x.pdb//x.pdb']) {
        await assert.rejects(client.find(bad), (e) => isSymsrvError(e, 'E_BAD_KEY'), bad);
      }
    } finally {
      await client.close();
    }
    assert.equal((await readFile(nginx.accessLog, 'utf8')).length, before, 'no request was sent');
  });
});
