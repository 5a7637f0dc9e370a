import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { copyFile, mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CLI } from '../../test/helpers/cli.js';
import { startFaultServer } from '../../test/helpers/faults.js';
import { CRASH, CWE } from '../../test/helpers/fixture-store.js';
import { startNginx, type NginxServer } from '../../test/helpers/nginx.js';
import { fixture, requireTool } from '../../test/helpers/readers.js';
import { writePacked } from '../../test/helpers/store.js';
import { listFiles as files, makeTempDir } from '../../test/helpers/tempdir.js';

/** A key whose form names no identity: the LZX fixture cabinet served as `large-files.ca_`. */
const LZX_KEY = 'large-files.cab/1/large-files.cab';

function symsrv(args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { ...process.env, _NT_SYMBOL_PATH: undefined, _NT_ALT_SYMBOL_PATH: undefined } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/**
 * `symsrv fetch` against stores that hold only compressed files (`name.pd_`, SymStore /compress):
 * served by a real nginx, and in a local folder; results checked against the original file and
 * against cabextract.
 */
describe('symsrv fetch: compressed store files (.pd_)', () => {
  let tmp: string;
  let www: string;
  let nginx: NginxServer;
  let faults: Awaited<ReturnType<typeof startFaultServer>>;
  let crashPdb: Buffer;

  before(async () => {
    requireTool('cabextract');
    tmp = await makeTempDir('symsrv-cab-e2e-');
    www = join(tmp, 'www');
    crashPdb = await readFile(fixture('pdb/crash.pdb'));
    const [name, id] = CRASH.split('/') as [string, string];
    await writePacked(www, { name, id }, fixture('pdb/crash.pdb'));
    // LZX (2 MiB window), as a store file
    await mkdir(join(www, 'large-files.cab', '1'), { recursive: true });
    await copyFile(fixture('cab/large-files-cab.cab'), join(www, 'large-files.cab', '1', 'large-files.ca_'));
    // a .pd_ with one flipped byte in its last data block (its CFDATA checksum no longer matches)
    const [cweName, cweId] = CWE.split('/') as [string, string];
    const bad = await writePacked(www, { name: cweName, id: cweId }, fixture('pdb/CrashWithException.pdb'));
    const bytes = await readFile(bad);
    bytes[bytes.length - 50]! ^= 0x20;
    await writeFile(bad, bytes);
    nginx = await startNginx({ root: www });
    faults = await startFaultServer({ root: www });
  });
  after(async () => {
    await faults?.stop();
    await nginx?.stop();
    await rm(tmp, { recursive: true, force: true });
  });

  test('an HTTP store with only crash.pd_ (MSZIP): the cache holds the expanded crash.pdb, byte-identical', async () => {
    const cache = join(tmp, 'c1');
    const r = symsrv(['fetch', '-y', `srv*${cache}*${nginx.url}/store`, '--key', CRASH]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), `found ${CRASH} ${join(cache, CRASH)}`);
    assert.deepEqual(await files(cache), [CRASH], 'the key\'s path, no .pd_, no temp file');
    assert.ok((await readFile(join(cache, CRASH))).equals(crashPdb));
  });

  test('an LZX store file expands to what cabextract gives', async () => {
    const cache = join(tmp, 'c2');
    const r = symsrv(['fetch', '-y', `srv*${cache}*${nginx.url}/store`, '--key', LZX_KEY]);
    assert.equal(r.code, 0, r.stderr);
    const reference = execFileSync('cabextract', ['-q', '-p', fixture('cab/large-files-cab.cab')], { maxBuffer: 64 * 1024 * 1024 });
    assert.ok((await readFile(join(cache, LZX_KEY))).equals(reference));
  });

  test('a local store with only the .pd_: expanded into the downstream cache, the store left as it is', async () => {
    const cache = join(tmp, 'c3');
    const store = www;
    const before = await files(store);
    const r = symsrv(['fetch', '-y', `srv*${cache}*${store}`, '--key', CRASH]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(await files(cache), [CRASH]);
    assert.ok((await readFile(join(cache, CRASH))).equals(crashPdb));
    assert.deepEqual(await files(store), before);
  });

  test('a corrupt .pd_: an E_BAD_CAB error naming the URL, nothing in the cache', async () => {
    const cache = join(tmp, 'c4');
    const r = symsrv(['fetch', '--json', '-y', `srv*${cache}*${nginx.url}/store`, '--key', CWE]);
    assert.equal(r.code, 1, r.stderr);
    const [row] = JSON.parse(r.stdout);
    assert.equal(row.status, 'error');
    assert.match(row.error, /CrashWithException\.pd_: data block \d+ at 0x[0-9a-f]+ fails its checksum/);
    assert.deepEqual(await files(cache), []);
  });

  test('SIGKILL while a .pd_ is being expanded leaves no file under a real name; the next run cleans up', async () => {
    const cache = join(tmp, 'c5');
    const child = spawn(process.execPath, [CLI, 'fetch', '-y', `srv*${cache}*${faults.url}/slow`, '--key', CRASH], { stdio: 'ignore' });
    const folder = join(cache, ...CRASH.split('/').slice(0, 2));
    for (let i = 0; i < 400; i++) {
      const names = await readdir(folder).catch(() => [] as string[]);
      const temp = names.find((n) => n.endsWith('.symsrv-tmp'));
      if (temp && (await stat(join(folder, temp)).catch(() => undefined))?.size) break;
      await new Promise((r) => setTimeout(r, 25));
    }
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    const left = await readdir(folder);
    assert.ok(left.length === 1 && left[0]!.endsWith('.symsrv-tmp'), `only a temp file: ${left}`);
    const r = symsrv(['fetch', '-y', `srv*${cache}*${nginx.url}/store`, '--key', CRASH]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(await readdir(folder), ['crash.pdb']);
    assert.ok((await readFile(join(folder, 'crash.pdb'))).equals(crashPdb));
  });
});
