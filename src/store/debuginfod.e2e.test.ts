import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFile, mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CLI } from '../../test/helpers/cli.js';
import { startDebuginfod, type DebuginfodServer } from '../../test/helpers/debuginfod.js';
import { requireTool } from '../../test/helpers/readers.js';
import { listFiles, makeTempDir, removeDir } from '../../test/helpers/tempdir.js';

/**
 * debuginfod servers as stores (`debuginfod*CACHE*URL`, or DEBUGINFOD_URLS), against elfutils'
 * real debuginfod indexing a folder of the fixture ELF files.
 */

const FIX = new URL('../../../test/fixtures/elf/', import.meta.url).pathname;
const BUILD_ID = '126ba1461caf6644cfdd124bfcceeffa81b18897'; // stripped_executable and symbolized_executable (readelf -n)
const MD5_ID = '001ba81f23966cf77e40bcbb0701cd34'; // md5_build_id: 16 bytes, padded to 20 in its SSQP key

function symsrv(args: string[], env: Record<string, string | undefined> = {}) {
  const r = spawnSync(process.execPath, [CLI, ...args], {
    encoding: 'utf8',
    env: { ...process.env, _NT_SYMBOL_PATH: undefined, DEBUGINFOD_URLS: undefined, ...env },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

let dir: string;
let server: DebuginfodServer;
before(async () => {
  requireTool('debuginfod');
  dir = await makeTempDir('symsrv-dbgi-');
  await mkdir(join(dir, 'indexed'));
  for (const f of ['symbolized_executable', 'md5_build_id']) await copyFile(join(FIX, f), join(dir, 'indexed', f));
  server = await startDebuginfod(join(dir, 'indexed'));
});
after(async () => {
  await server?.stop();
  await removeDir(dir);
});

describe('debuginfod stores', () => {
  test("a stripped binary's debug file comes from /buildid/ID/debuginfo, checked and cached under its SSQP key", async () => {
    const cache = join(dir, 'c1');
    const r = symsrv(['fetch', '-y', `debuginfod*${cache}*${server.url}`, join(FIX, 'stripped_executable')]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const key = `_.debug/elf-buildid-sym-${BUILD_ID}/_.debug`;
    assert.match(r.stdout, new RegExp(`^found ${key} `));
    assert.deepEqual(await readFile(join(cache, key)), await readFile(join(FIX, 'symbolized_executable')));
    assert.ok((await server.requests()).includes(`GET /buildid/${BUILD_ID}/debuginfo 200`));
  });

  test('--images asks /buildid/ID/executable; a 16-byte build-id is asked for unpadded after the padded form', async () => {
    const cache = join(dir, 'c2');
    const r = symsrv(['fetch', '--images', '-y', `debuginfod*${cache}*${server.url}`, join(FIX, 'md5_build_id')]);
    const key = `md5_build_id/elf-buildid-${MD5_ID}00000000/md5_build_id`;
    assert.match(r.stdout, new RegExp(`^found ${key} `, 'm'), r.stdout + r.stderr);
    assert.deepEqual(await readFile(join(cache, key)), await readFile(join(FIX, 'md5_build_id')));
    const requests = await server.requests();
    assert.ok(requests.includes(`GET /buildid/${MD5_ID}00000000/executable 404`), requests.join('\n'));
    assert.ok(requests.includes(`GET /buildid/${MD5_ID}/executable 200`), requests.join('\n'));
  });

  test('debuginfod* alone takes the servers of DEBUGINFOD_URLS and the default downstream store', async () => {
    const home = join(dir, 'home');
    const env = { DEBUGINFOD_URLS: `${server.url} `, DBGHELP_HOMEDIR: home };
    const p = symsrv(['path', 'debuginfod*'], env);
    assert.equal(p.code, 0, p.stderr);
    assert.match(p.stdout, new RegExp(`the debuginfod server ${server.url.replace(/[.]/g, '\\.')}`));
    assert.match(p.stdout, /DEBUGINFOD_URLS/);
    const r = symsrv(['fetch', '-y', 'debuginfod*', '--key', `_.debug/elf-buildid-sym-${BUILD_ID}/_.debug`], env);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.ok((await listFiles(join(home, 'sym'))).includes(`_.debug/elf-buildid-sym-${BUILD_ID}/_.debug`));
  });

  test('keys a debuginfod server cannot hold (PDBs) cost no request, and a missing build-id is "missing"', async () => {
    const before = (await server.requests()).length;
    const cache = join(dir, 'c3');
    const r = symsrv(['fetch', '-y', `debuginfod*${cache}*${server.url}`, '--key', 'crash.pdb/3249D99D0C4049318610F4E4FB0B69361/crash.pdb', '--key', `_.debug/elf-buildid-sym-${'ab'.repeat(20)}/_.debug`]);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /^missing crash\.pdb\//m);
    assert.match(r.stdout, /^missing _\.debug\//m);
    const requests = (await server.requests()).slice(before);
    assert.deepEqual(requests, [`GET /buildid/${'ab'.repeat(20)}/debuginfo 404`]);
    assert.deepEqual(await listFiles(cache), []);
  });
});
