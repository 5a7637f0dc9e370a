import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { copyFile, mkdir, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CLI } from '../../../test/helpers/cli.js';
import { startNginx, type NginxServer } from '../../../test/helpers/nginx.js';
import { requireTool } from '../../../test/helpers/readers.js';
import { listFiles, makeTempDir, removeDir } from '../../../test/helpers/tempdir.js';

/**
 * `symsrv add` / `symsrv del` on real files, checked by independent readers: what add stores is
 * fetched back through nginx by `symsrv fetch`, its cabinets are expanded by cabextract
 * (libmspack) and gcab, and the 000Admin bookkeeping is compared with stores written by
 * symstore.exe (test/fixtures/symstore: the symstore Python package's test data).
 */

const FIX = new URL('../../../../test/fixtures/', import.meta.url).pathname;
const PDB = join(FIX, 'pdb/crash.pdb');
const PDB_KEY = 'crash.pdb/3249D99D0C4049318610F4E4FB0B69361/crash.pdb';
const EXE = join(FIX, 'pe/crash.exe');
const EXE_KEY = 'crash.exe/5AB380779000/crash.exe';
const ELF = join(FIX, 'elf/stripped_executable');
const ELF_KEY = 'stripped_executable/elf-buildid-126ba1461caf6644cfdd124bfcceeffa81b18897/stripped_executable';
const HELLO = join(FIX, 'pdb/HelloWorld.pdb');
const HELLO_KEY = 'HelloWorld.pdb/99891B3ED7AE4C3BABFF8A2B4A9B0C431/HelloWorld.pdb';

function symsrv(args: string[], env: Record<string, string | undefined> = {}) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { ...process.env, _NT_SYMBOL_PATH: undefined, ...env } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Runs `symsrv` without blocking the event loop (several at once). */
function symsrvAsync(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const ADD_LINE = /^\d{10},add,(file|ptr),\d\d\/\d\d\/\d{4},\d\d:\d\d:\d\d,"[^"]*","[^"]*","[^"]*",$/;

let dir: string;
before(async () => {
  requireTool('cabextract');
  requireTool('gcab');
  requireTool('unzip');
  dir = await makeTempDir('symsrv-write-');
});
after(() => removeDir(dir));

describe('symsrv add', () => {
  let nginx: NginxServer;
  let store: string;
  before(async () => {
    store = join(dir, 'store');
    nginx = await startNginx({ root: store });
  });
  after(() => nginx.stop());

  test('stores PE, PDB and ELF files under their keys, with the 000Admin bookkeeping; symsrv fetch gets them back through nginx', async () => {
    const r = symsrv(['add', '--store', store, '--product', 'Demo', '--version', '1.2', '--comment', 'nightly', EXE, PDB, ELF]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^transaction 0000000001: 3 file\(s\) added/m);
    const files = await listFiles(store);
    for (const key of [EXE_KEY, PDB_KEY, ELF_KEY]) {
      assert.ok(files.includes(key), `${key} in ${files.join(', ')}`);
      assert.ok(files.includes(key.replace(/[^/]+$/, 'refs.ptr')));
    }
    assert.deepEqual(await readFile(join(store, PDB_KEY)), await readFile(PDB));
    const admin = join(store, '000Admin');
    assert.equal(await readFile(join(admin, 'lastid.txt'), 'utf8'), '0000000001');
    const history = await readFile(join(admin, 'history.txt'), 'utf8');
    assert.match(history, /^0000000001,add,file,\d\d\/\d\d\/\d{4},\d\d:\d\d:\d\d,"Demo","1.2","nightly",\r\n$/);
    assert.equal(await readFile(join(admin, 'server.txt'), 'utf8'), history);
    const transaction = await readFile(join(admin, '0000000001'), 'utf8');
    assert.ok(transaction.includes(`"crash.pdb\\3249D99D0C4049318610F4E4FB0B69361","${PDB}"\r\n`), transaction);
    assert.match(await readFile(join(store, PDB_KEY.replace(/[^/]+$/, 'refs.ptr')), 'utf8'), /^0000000001,file,"[^"]+crash\.pdb",pri,,N,,$/);
    assert.match(await readFile(join(store, EXE_KEY.replace(/[^/]+$/, 'refs.ptr')), 'utf8'), /,bin,,N,,$/);
    assert.ok((await stat(join(store, 'pingme.txt'))).isFile());

    const cache = join(dir, 'cache1');
    const f = symsrv(['fetch', '-y', `srv*${cache}*${nginx.url}/store`, '--key', EXE_KEY, '--key', PDB_KEY, '--key', ELF_KEY]);
    assert.equal(f.code, 0, f.stdout + f.stderr);
    assert.deepEqual(await readFile(join(cache, ELF_KEY)), await readFile(ELF));
    assert.deepEqual(await readFile(join(cache, EXE_KEY)), await readFile(EXE));
  });

  test('--compress writes MSZIP cabinets (name.pd_) that cabextract and gcab expand to the original bytes', async () => {
    const r = symsrv(['add', '--store', store, '--compress', HELLO, EXE]);
    assert.equal(r.code, 0, r.stderr);
    for (const [key, original] of [
      [HELLO_KEY, HELLO],
      [EXE_KEY, EXE],
    ] as const) {
      const cab = join(store, key.slice(0, -1) + '_');
      const name = key.split('/')[0]!;
      const test = spawnSync('cabextract', ['-t', cab], { encoding: 'utf8' });
      assert.equal(test.status, 0, test.stdout + test.stderr);
      assert.match(test.stdout, /All done, no errors/);
      const out1 = join(dir, 'cabextract-' + name);
      assert.equal(spawnSync('cabextract', ['-q', '-d', out1, cab]).status, 0);
      assert.deepEqual(await readFile(join(out1, name)), await readFile(original));
      const out2 = join(dir, 'gcab-' + name);
      await mkdir(out2);
      assert.equal(spawnSync('gcab', ['-x', cab], { cwd: out2 }).status, 0);
      assert.deepEqual(await readFile(join(out2, name)), await readFile(original));
    }
    // The refs record the compressed form.
    assert.match(await readFile(join(store, HELLO_KEY.replace(/[^/]+$/, 'refs.ptr')), 'utf8'), /,Y,,$/);
  });

  test('a compressed store file (.pd_) is refused with a clear error and stores nothing (symsrv key reads it)', async () => {
    const other = join(dir, 'cab-store');
    const cab = join(dir, 'HelloWorld.pd_');
    assert.equal(spawnSync('gcab', ['-c', '-z', cab, 'HelloWorld.pdb'], { cwd: join(FIX, 'pdb') }).status, 0);
    const key = symsrv(['key', cab]);
    assert.equal(key.code, 0, key.stderr);
    assert.match(key.stdout, new RegExp(HELLO_KEY));
    const r = symsrv(['add', '--store', other, cab]);
    assert.equal(r.code, 1, r.stderr); // incomplete: a file named was not stored
    assert.match(r.stdout + r.stderr, /HelloWorld\.pd_ is a compressed store file \(a CAB\); add the file it holds/);
    assert.doesNotMatch(r.stdout + r.stderr, /\n\s+at /);
    assert.deepEqual((await listFiles(other).catch(() => [])).filter((f) => !f.startsWith('000Admin')), []);
  });

  test('--pointer writes file.ptr (PATH: the original) that a fetch from the store follows', async () => {
    const pstore = join(dir, 'pstore');
    const r = symsrv(['add', '--store', pstore, '--pointer', PDB]);
    assert.equal(r.code, 0, r.stderr);
    const folder = join(pstore, PDB_KEY.replace(/\/[^/]+$/, ''));
    assert.deepEqual(await readdir(folder).then((n) => n.sort()), ['file.ptr', 'refs.ptr']);
    assert.equal(await readFile(join(folder, 'file.ptr'), 'utf8'), `PATH:${PDB}`);
    assert.match(await readFile(join(pstore, '000Admin/history.txt'), 'utf8'), /^0000000001,add,ptr,/);
    const cache = join(dir, 'pcache');
    const f = symsrv(['fetch', '-y', `srv*${cache}*${pstore}`, '--key', PDB_KEY]);
    assert.equal(f.code, 0, f.stdout + f.stderr);
  });

  test('a store with index2.txt is written three-tier (na/name/ID/name)', async () => {
    const t = join(dir, 'three');
    await mkdir(t);
    await writeFile(join(t, 'index2.txt'), '');
    const r = symsrv(['add', '--store', t, PDB]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok((await listFiles(t)).includes(`cr/${PDB_KEY}`));
    const d = symsrv(['del', '1', '--store', t]);
    assert.equal(d.code, 0, d.stderr);
    assert.deepEqual(await listFiles(t), ['000Admin/0000000001.deleted', '000Admin/history.txt', '000Admin/lastid.txt', '000Admin/server.txt', 'index2.txt', 'pingme.txt']);
  });

  test('-r adds a folder tree, passing over other files; a named file that is not a symbol file adds nothing (exit 2)', async () => {
    const src = join(dir, 'tree');
    await mkdir(join(src, 'sub'), { recursive: true });
    await copyFile(PDB, join(src, 'sub', 'crash.pdb'));
    await writeFile(join(src, 'README.txt'), 'not a symbol file');
    const rstore = join(dir, 'rstore');
    const r = symsrv(['add', '-r', '--store', rstore, src]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok((await listFiles(rstore)).includes(PDB_KEY));

    const bad = symsrv(['add', '--store', join(dir, 'never'), join(src, 'README.txt'), PDB]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /README\.txt/);
    assert.doesNotMatch(bad.stderr, /\n\s+at /);
    assert.deepEqual(await listFiles(join(dir, 'never')), []);
  });

  test('four add runs at once on one store: four distinct transactions, no line lost or torn', async () => {
    const cstore = join(dir, 'concurrent');
    const inputs = [PDB, HELLO, EXE, ELF];
    const runs = await Promise.all(inputs.map((file) => symsrvAsync(['add', '--store', cstore, '--comment', `c-${file.length}`, file])));
    for (const r of runs) assert.equal(r.code, 0, r.stderr);
    const ids = runs.map((r) => /transaction (\d{10})/.exec(r.stdout)![1]).sort();
    assert.deepEqual(ids, ['0000000001', '0000000002', '0000000003', '0000000004']);
    const admin = join(cstore, '000Admin');
    assert.equal(await readFile(join(admin, 'lastid.txt'), 'utf8'), '0000000004');
    for (const name of ['server.txt', 'history.txt']) {
      const lines = (await readFile(join(admin, name), 'utf8')).split('\r\n').filter(Boolean);
      assert.equal(lines.length, 4, name);
      for (const l of lines) assert.match(l, ADD_LINE);
      assert.deepEqual(lines.map((l) => l.slice(0, 10)).sort(), ids);
    }
    for (const id of ids) assert.ok((await stat(join(admin, id))).isFile());
    assert.ok(!(await listFiles(cstore)).some((f) => f.includes('.lock') || f.includes('symsrv-tmp')));
  });
});

describe('symsrv del', () => {
  test('removes exactly what a transaction added: a file another transaction also added stays', async () => {
    const store = join(dir, 'dstore');
    assert.equal(symsrv(['add', '--store', store, PDB, EXE]).code, 0); // 1
    assert.equal(symsrv(['add', '--store', store, PDB]).code, 0); // 2: the same PDB again
    assert.equal(symsrv(['add', '--store', store, '--compress', HELLO]).code, 0); // 3

    let r = symsrv(['del', '1', '--store', store]);
    assert.equal(r.code, 0, r.stderr);
    let files = await listFiles(store);
    assert.ok(files.includes(PDB_KEY), 'the PDB is still referenced by transaction 2');
    assert.ok(!files.some((f) => f.startsWith('crash.exe/')), 'the image folder is gone with its only transaction');
    assert.equal(await readFile(join(store, PDB_KEY.replace(/[^/]+$/, 'refs.ptr')), 'utf8').then((t) => t.split('\r\n').length), 1);

    r = symsrv(['del', '0000000002', '--store', store, '--json']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).id, '0000000005');
    files = await listFiles(store);
    assert.ok(!files.some((f) => f.startsWith('crash.pdb')));
    assert.ok(files.includes(HELLO_KEY.slice(0, -1) + '_'));

    const admin = join(store, '000Admin');
    assert.deepEqual(
      (await readFile(join(admin, 'history.txt'), 'utf8')).split('\r\n').filter(Boolean).map((l) => l.replace(/,\d\d\/.*$/, '')),
      ['0000000001,add,file', '0000000002,add,file', '0000000003,add,file', '0000000004,del,0000000001', '0000000005,del,0000000002'],
    );
    assert.deepEqual((await readFile(join(admin, 'server.txt'), 'utf8')).split('\r\n').filter(Boolean).map((l) => l.slice(0, 10)), ['0000000003']);
    assert.equal(await readFile(join(admin, 'lastid.txt'), 'utf8'), '0000000005');
    assert.ok(files.includes('000Admin/0000000001.deleted') && files.includes('000Admin/0000000002.deleted'));

    const again = symsrv(['del', '2', '--store', store]);
    assert.equal(again.code, 2);
    assert.match(again.stderr, /0000000002 is not in .*server\.txt/);
  });

  test('after deleting a copy, a pointer added later by another transaction becomes file.ptr again', async () => {
    const store = join(dir, 'mixed');
    assert.equal(symsrv(['add', '--store', store, '--pointer', PDB]).code, 0); // 1: ptr
    assert.equal(symsrv(['add', '--store', store, PDB]).code, 0); // 2: file, takes over
    const folder = join(store, PDB_KEY.replace(/\/[^/]+$/, ''));
    assert.deepEqual((await readdir(folder)).sort(), ['crash.pdb', 'refs.ptr']);
    assert.equal(symsrv(['del', '2', '--store', store]).code, 0);
    assert.deepEqual((await readdir(folder)).sort(), ['file.ptr', 'refs.ptr']);
    assert.equal(await readFile(join(folder, 'file.ptr'), 'utf8'), `PATH:${PDB}`);
  });
});

describe('stores written by symstore.exe', () => {
  test('add continues its transaction ids and lines; del of one of its transactions removes its files', async () => {
    const root = join(dir, 'existing');
    await mkdir(root);
    assert.equal(spawnSync('unzip', ['-q', join(FIX, 'symstore/existing_store.zip'), '-d', root]).status, 0);
    const r = symsrv(['add', '--store', root, '--product', 'symsrv', EXE]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /transaction 0000000003/);
    const admin = join(root, '000Admin');
    const server = (await readFile(join(admin, 'server.txt'), 'utf8')).split('\r\n').filter(Boolean);
    assert.equal(server.length, 3);
    for (const l of server) assert.match(l, ADD_LINE);

    // Transaction 2 of symstore.exe added dummylib.pdb alone.
    const d = symsrv(['del', '2', '--store', root]);
    assert.equal(d.code, 0, d.stderr);
    const files = await listFiles(root);
    assert.ok(!files.some((f) => f.startsWith('dummylib.pdb')), files.join(', '));
    assert.ok(files.includes('dummyprog.pdb/F6301B4562FE4B4DB691192733ECE6B71/dummyprog.pdb'));
    assert.ok(files.includes('bigage.pdb/C9A61DDDD7E44353A668E39AC614A7EAa/bigage.pdb'));
    assert.deepEqual(server.slice(0, 1), (await readFile(join(admin, 'server.txt'), 'utf8')).split('\r\n').filter(Boolean).slice(0, 1));
  });
});
