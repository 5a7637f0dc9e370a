import assert from 'node:assert/strict';
import { mkdir, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CRASH, startFixtureStore, type FixtureStore } from '../../test/helpers/fixture-store.js';
import { mountSmallDisk } from '../../test/helpers/tmpfs.js';
import { SymbolClient } from '../client.js';

const FIX = new URL('../../../test/fixtures/', import.meta.url).pathname;
const MISSING = 'nothere.pdb/0123456789ABCDEF0123456789ABCDEF1/nothere.pdb';

/** Every folder and file under `dir`, relative, sorted (empty folders included). */
async function tree(dir: string): Promise<string[]> {
  return (await readdir(dir, { recursive: true })).sort();
}

describe('the store chain (issue 14, defect 13)', () => {
  let store: FixtureStore;

  before(async () => {
    store = await startFixtureStore('symsrv-chain-');
  });
  after(() => store?.stop());

  test('regression: a key that turns out missing leaves no empty key folders in the cache', async () => {
    const cache = join(store.tmp, 'c1');
    const client = new SymbolClient({ symbolPath: `srv*${cache}*${store.nginx.url}/store` });
    try {
      assert.equal((await client.find(MISSING)).status, 'missing');
      assert.equal((await client.find(CRASH)).status, 'found');
      // The next miss, beside a real entry: its folders go, the real one stays.
      assert.equal((await client.find(MISSING)).status, 'missing');
    } finally {
      await client.close();
    }
    assert.deepEqual(await tree(cache), ['crash.pdb', 'crash.pdb/3249D99D0C4049318610F4E4FB0B69361', CRASH].sort());
  });

  test('regression: a full first cache (ENOSPC) falls back to the next writable store', async (t) => {
    const disk = await mountSmallDisk(64);
    if ('skip' in disk) return t.skip(disk.skip);
    t.after(() => disk.unmount());
    const big = join(store.tmp, 'c2');
    const client = new SymbolClient({ symbolPath: `srv*${disk.dir}*${big}*${store.nginx.url}/store` });
    try {
      const r = await client.find(CRASH);
      assert.equal(r.status, 'found', r.status === 'error' ? r.error.message : '');
      assert.equal(r.status === 'found' && r.path, join(big, CRASH));
      assert.deepEqual(await readFile(join(big, CRASH)), await readFile(join(FIX, 'pdb/crash.pdb')));
    } finally {
      await client.close();
    }
    // The 64 KiB disk holds no partial file (the temp file was removed) nor empty key folders.
    assert.deepEqual(await tree(disk.dir), []);
  });

  test('regression: a read-only cache downloads once into one kept temp folder, and -v says so', async (t) => {
    const disk = await mountSmallDisk(64);
    if ('skip' in disk) return t.skip(disk.skip);
    t.after(() => disk.unmount());
    disk.readOnly();
    const tmp = join(store.tmp, 'tmpdir');
    await mkdir(tmp);
    const saved = process.env.TMPDIR;
    process.env.TMPDIR = tmp;
    t.after(() => {
      if (saved === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = saved;
    });
    const requests = async (): Promise<number> => (await readFile(store.nginx.accessLog, 'utf8')).split('\n').filter((l) => l.includes(`GET /store/${CRASH}`)).length;
    const before = await requests();
    const paths: string[] = [];
    const probes: string[] = [];
    for (let run = 0; run < 2; run++) {
      const client: SymbolClient = new SymbolClient({
        symbolPath: `srv*${disk.dir}*${store.nginx.url}/store`,
        onProbe: (e) => void probes.push(`${e.target} ${e.result}`),
      });
      try {
        const r = await client.find(CRASH);
        assert.equal(r.status, 'found', r.status === 'error' ? r.error.message : '');
        if (r.status === 'found') paths.push(r.path);
      } finally {
        await client.close();
      }
    }
    assert.equal(await requests(), before + 1, 'the second run used the kept file');
    assert.equal(paths[0], paths[1]);
    assert.deepEqual(await readdir(tmp), [`symsrv-${process.getuid!()}`]);
    assert.ok(probes.some((p) => p.includes('no writable store on the path')), probes.join('\n'));
  });
});
