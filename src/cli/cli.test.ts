import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { copyFile, mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startFaultServer } from '../../test/helpers/faults.js';
import { buildPePdb, readobjPe } from '../../test/helpers/readers.js';
import { startNginx, type NginxServer } from '../../test/helpers/nginx.js';
import { buildStore } from '../../test/helpers/store.js';
import { listFiles as files, makeTempDir } from '../../test/helpers/tempdir.js';
import { CLI } from '../../test/helpers/cli.js';
import { CRASH, CWE } from '../../test/helpers/fixture-store.js';

const MAIN = CLI; // the bundled command, as shipped
const FIX = new URL('../../../test/fixtures/', import.meta.url).pathname;
const BIG = 'big.bin/B16/big.bin';
const bigBytes = randomBytes(3 * 1024 * 1024);

function symsrv(args: string[], env: Record<string, string | undefined> = {}) {
  const r = spawnSync(process.execPath, [MAIN, ...args], {
    encoding: 'utf8',
    env: { ...process.env, _NT_SYMBOL_PATH: undefined, _NT_ALT_SYMBOL_PATH: undefined, ...env },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}


describe('symsrv key', () => {
  test('prints FILE<TAB>KIND<TAB>KEY for PE, PDB and ELF files', () => {
    const exe = join(FIX, 'pe/crash.exe');
    const pdb = join(FIX, 'pdb/crash.pdb');
    const elf = join(FIX, 'elf/stripped_executable');
    const r = symsrv(['key', exe, pdb, elf]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.stdout.trimEnd().split('\n'), [
      `${exe}\tpe\tcrash.exe/5AB380779000/crash.exe`,
      `${exe}\tpdbref\t${CRASH}`,
      `${pdb}\tpdb\t${CRASH}`,
      `${elf}\telf\tstripped_executable/elf-buildid-126ba1461caf6644cfdd124bfcceeffa81b18897/stripped_executable`,
      `${elf}\telf-debug\t_.debug/elf-buildid-sym-126ba1461caf6644cfdd124bfcceeffa81b18897/_.debug`,
    ]);
  });

  test('--json prints an array of {file, kind, key}', () => {
    const pdb = join(FIX, 'pdb/HelloWorld.pdb');
    const r = symsrv(['key', '--json', pdb]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), [{ file: pdb, kind: 'pdb', key: 'HelloWorld.pdb/99891B3ED7AE4C3BABFF8A2B4A9B0C431/HelloWorld.pdb' }]);
  });

  test('unreadable or malformed input: a one-line error, exit 2, no stack trace', async () => {
    const dir = await makeTempDir('symsrv-cli-key-');
    try {
      await writeFile(join(dir, 'empty.exe'), '');
      await writeFile(join(dir, 'x.pdb'), Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) % 251)));
      const good = join(FIX, 'pdb/crash.pdb');
      for (const bad of [join(dir, 'empty.exe'), join(dir, 'x.pdb'), join(dir, 'does-not-exist.exe')]) {
        const r = symsrv(['key', bad, good]);
        assert.equal(r.code, 2, bad);
        assert.match(r.stderr, /^symsrv: .+/);
        assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
        assert.match(r.stdout, /crash\.pdb/, 'the good file is still keyed');
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('symsrv path', () => {
  test('explains each element, from the argument or the environment', () => {
    const r = symsrv(['path', 'srv*/tmp/sym*https://msdl.microsoft.com/download/symbols;/opt/syms']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /\/tmp\/sym/);
    assert.match(r.stdout, /https:\/\/msdl\.microsoft\.com\/download\/symbols/);
    assert.match(r.stdout, /\/opt\/syms/);
    const j = symsrv(['path', '--json'], { _NT_SYMBOL_PATH: 'srv*/tmp/c*http://example.invalid/s' });
    assert.equal(j.code, 0, j.stderr);
    const parsed = JSON.parse(j.stdout);
    assert.equal(parsed.source, 'environment');
    assert.equal(parsed.elements.length, 1);
  });

  test('a password in a store URL is masked in the text and the JSON', () => {
    const sp = 'srv*/tmp/c*https://alice:s3cret@symbols.example/s';
    for (const args of [['path', sp, '--no-proxy'], ['path', sp, '--no-proxy', '--json']]) {
      const r = symsrv(args);
      assert.equal(r.code, 0, r.stderr);
      assert.doesNotMatch(r.stdout + r.stderr, /s3cret|alice/);
      assert.match(r.stdout, /https:\/\/\*\*\*@symbols\.example\/s/);
    }
  });

  test('regression: no password shown for a cache* URL, a bare URL, a malformed URL, or one holding ; * or a space', () => {
    // Each password is unique (pwN), so any fragment of it in the output is found.
    const paths = [
      'cache*https://user:pwA1@h.example/x',
      'https://user:pwB2@h.example/x',
      'srv*/tmp/c*https://user:pwC3@[h.example/x',
      'srv*/tmp/c*https://user:pwD4@h.example:99999/x',
      'srv*/tmp/c*https://user:p;wE5@h.example/x',
      'srv*/tmp/c*https://user:p*wF6@h.example/x',
      'srv*/tmp/c*https://user:p wG7@h.example/x',
      'srv*/tmp/c*https://us er:pwH8@h.example/x',
    ];
    for (const sp of paths) {
      for (const args of [['path', sp, '--no-proxy'], ['path', sp, '--no-proxy', '--json']]) {
        const r = symsrv(args);
        assert.doesNotMatch(r.stdout + r.stderr, /w[A-H][1-8]|user:p/, `${args.join(' ')}:\n${r.stdout}${r.stderr}`);
      }
    }
  });

  test('no path anywhere: the .symfix default under DBGHELP_HOMEDIR', () => {
    const r = symsrv(['path', '--json'], { DBGHELP_HOMEDIR: '/tmp/dbghome' });
    assert.equal(r.code, 0, r.stderr);
    const parsed = JSON.parse(r.stdout);
    assert.match(parsed.symbolPath, /^srv\*\/tmp\/dbghome.*\*https:\/\/msdl\.microsoft\.com\/download\/symbols$/);
  });
});

describe('symsrv fetch', () => {
  let tmp: string;
  let nginx: NginxServer;
  let faults: Awaited<ReturnType<typeof startFaultServer>>;

  before(async () => {
    tmp = await makeTempDir('symsrv-cli-fetch-');
    await buildStore(join(tmp, 'www'), [
      { path: join(FIX, 'pdb/crash.pdb'), key: CRASH },
      { path: join(FIX, 'pdb/CrashWithException.pdb'), key: CWE },
      { path: join(FIX, 'pe/crash.exe'), key: 'crash.exe/5AB380779000/crash.exe' },
    ]);
    // 3 MiB of random bytes under a .bin key (whose form names no identity to check)
    await mkdir(join(tmp, 'www', 'big.bin', 'B16'), { recursive: true });
    await writeFile(join(tmp, 'www', 'big.bin', 'B16', 'big.bin'), bigBytes);
    nginx = await startNginx({ root: join(tmp, 'www') });
    faults = await startFaultServer({ root: join(tmp, 'www') });
  });
  after(async () => {
    await faults?.stop();
    await nginx?.stop();
    await rm(tmp, { recursive: true, force: true });
  });

  test('binaries: found lines, exit 0, files in the cache', async () => {
    const cache = join(tmp, 'c1');
    const r = symsrv(['fetch', '-y', `srv*${cache}*${nginx.url}/store`, join(FIX, 'pe/crash.exe'), join(FIX, 'pe/CrashWithException.exe')]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.stdout.trimEnd().split('\n'), [`found ${CRASH} ${join(cache, CRASH)}`, `found ${CWE} ${join(cache, CWE)}`]);
    assert.deepEqual(await files(cache), [CRASH, CWE].sort());
  });

  test('--max-size: a download larger than the maximum is refused, nothing is cached (issue 14, defect 5)', async () => {
    const cache = join(tmp, 'cmax');
    const r = symsrv(['fetch', '--json', '--max-size', '1M', '-y', `srv*${cache}*${nginx.url}/store`, '--key', 'big.bin/B16/big.bin']);
    assert.equal(r.code, 1, r.stderr);
    const [row] = JSON.parse(r.stdout) as Array<{ status: string; error: string }>;
    assert.equal(row!.status, 'error');
    assert.match(row!.error, /more than 1048576 bytes/);
    assert.deepEqual(await files(cache), []);
    assert.equal(symsrv(['fetch', '--max-size', '12X', '--key', 'big.bin/B16/big.bin']).code, 2);
  });

  test('--images also fetches the binary; --json gives {key,status,path,store}', async () => {
    const cache = join(tmp, 'c2');
    const r = symsrv(['fetch', '--json', '--images', '-y', `srv*${cache}*${nginx.url}/store`, join(FIX, 'pe/crash.exe')]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), [
      { key: 'crash.exe/5AB380779000/crash.exe', status: 'found', path: join(cache, 'crash.exe/5AB380779000/crash.exe'), store: `${nginx.url}/store` },
      { key: CRASH, status: 'found', path: join(cache, CRASH), store: `${nginx.url}/store` },
    ]);
  });

  test('missing and failing keys: exit 1 with missing/error lines', async () => {
    const cache = join(tmp, 'c3');
    const missing = 'nothere.pdb/0123456789ABCDEF0123456789ABCDEF1/nothere.pdb';
    const r = symsrv(['fetch', '-y', `srv*${cache}*${nginx.url}/store`, '--key', CRASH, '--key', missing]);
    assert.equal(r.code, 1, r.stderr);
    assert.deepEqual(r.stdout.trimEnd().split('\n'), [`found ${CRASH} ${join(cache, CRASH)}`, `missing ${missing}`]);
    const e = symsrv(['fetch', '--json', '--retries', '0', '-y', `srv*${join(tmp, 'c3b')}*${nginx.url}/portal`, '--key', CRASH]);
    assert.equal(e.code, 1);
    const [row] = JSON.parse(e.stdout);
    assert.equal(row.status, 'error');
    assert.match(row.error, /HTML page/);
    assert.deepEqual(await files(join(tmp, 'c3b')), []);
  });

  test('a folder, recursively, and --out copies files flat', async () => {
    const bins = join(tmp, 'bins');
    await mkdir(join(bins, 'sub'), { recursive: true });
    await copyFile(join(FIX, 'pe/crash.exe'), join(bins, 'crash.exe'));
    await copyFile(join(FIX, 'pe/CrashWithException.exe'), join(bins, 'sub/CrashWithException.exe'));
    await writeFile(join(bins, 'notes.txt'), 'not a binary');
    const out = join(tmp, 'out');
    const flat = symsrv(['fetch', '-y', `srv*${join(tmp, 'c4')}*${nginx.url}/store`, bins]);
    assert.equal(flat.code, 0, flat.stderr);
    assert.equal(flat.stdout.trim().split('\n').length, 1, 'without -r only the top folder');
    const r = symsrv(['fetch', '-r', '--out', out, '-y', `srv*${join(tmp, 'c4')}*${nginx.url}/store`, bins]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(await files(out), ['CrashWithException.pdb', 'crash.pdb']);
  });

  test('usage errors exit 2 before any request: bad key, no target, missing file, bad option', () => {
    const sp = `srv*${join(tmp, 'c5')}*${nginx.url}/store`;
    for (const args of [['--key', '../../etc/passwd'], [], [join(tmp, 'nope.exe')], ['--jobs', '0', '--key', CRASH]]) {
      const r = symsrv(['fetch', '-y', sp, ...args]);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stdout} ${r.stderr}`);
      assert.doesNotMatch(r.stderr, /\n\s+at /);
    }
  });

  test('PE/PDB pairs built by clang-cl + lld-link (32/64-bit, exe/dll): each PDB is found under the key llvm-readobj gives', async () => {
    const bins = join(tmp, 'clang');
    await mkdir(bins, { recursive: true });
    const built = [
      buildPePdb(bins, { name: 'hello64', arch: 'x64', kind: 'exe' }),
      buildPePdb(bins, { name: 'hello32', arch: 'x86', kind: 'exe' }),
      buildPePdb(bins, { name: 'lib64', arch: 'x64', kind: 'dll', pdbAltPath: true }),
      buildPePdb(bins, { name: 'lib32', arch: 'x86', kind: 'dll', pdbPageSize: 8192 }),
    ];
    const store = join(tmp, 'www', 'clang');
    const expected: string[] = [];
    for (const b of built) {
      // the key from an independent reader, not from symsrv
      const pdb = readobjPe(b.image).debug.find((d) => d.pdb)!.pdb!;
      const g = pdb.guid;
      const guid = [g.subarray(0, 4).reverse(), g.subarray(4, 6).reverse(), g.subarray(6, 8).reverse(), g.subarray(8)]
        .map((x) => Buffer.from(x).toString('hex'))
        .join('')
        .toUpperCase();
      const name = pdb.fileName.split(/[\\/]/).pop()!;
      const key = `${name}/${guid}${pdb.age.toString(16)}/${name}`;
      await mkdir(join(store, name, `${guid}${pdb.age.toString(16)}`), { recursive: true });
      await copyFile(b.pdb, join(store, key));
      expected.push(`found ${key} ${join(tmp, 'c7', key)}`);
    }
    const r = symsrv(['fetch', '-y', `srv*${join(tmp, 'c7')}*${nginx.url}/store/clang`, ...built.map((b) => b.image)]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.deepEqual(r.stdout.trimEnd().split('\n'), expected);
  });

  // Files above 1 MiB stream to a temp file as they arrive (src/store/download.ts): a kill leaves
  // the temp file, which the next run removes.
  test('SIGKILL during a large download leaves no file under a real name; the next run cleans up and succeeds', async () => {
    const cache = join(tmp, 'c6');
    const child = spawn(process.execPath, [MAIN, 'fetch', '-y', `srv*${cache}*${faults.url}/slow`, '--key', BIG], { stdio: 'ignore' });
    const folder = join(cache, 'big.bin', 'B16');
    // kill once a temp file has bytes in it
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
    const r = symsrv(['fetch', '-y', `srv*${cache}*${nginx.url}/store`, '--key', BIG]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(await readdir(folder), ['big.bin']);
    assert.deepEqual(await readFile(join(folder, 'big.bin')), bigBytes);
  });

  // Files up to 1 MiB are gathered in memory, checked, then written at once: a kill leaves nothing.
  test('SIGKILL during a small download leaves no file at all; the next run succeeds', async () => {
    const cache = join(tmp, 'c8');
    const seen = faults.requests;
    const child = spawn(process.execPath, [MAIN, 'fetch', '-y', `srv*${cache}*${faults.url}/slow`, '--key', CRASH], { stdio: 'ignore' });
    // kill once the slow answer is under way (crash.pdb takes ~0.3 s to arrive in 4 KiB steps)
    for (let i = 0; i < 400 && !faults.log.slice(seen).some((r) => r.url.endsWith('/crash.pdb')); i++) await new Promise((r) => setTimeout(r, 10));
    await new Promise((r) => setTimeout(r, 50));
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    const folder = join(cache, 'crash.pdb', '3249D99D0C4049318610F4E4FB0B69361');
    assert.deepEqual(await files(cache), [], 'nothing in the cache, not even a temp file');
    const r = symsrv(['fetch', '-y', `srv*${cache}*${nginx.url}/store`, '--key', CRASH]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(await readdir(folder), ['crash.pdb']);
    assert.deepEqual(await readFile(join(folder, 'crash.pdb')), await readFile(join(FIX, 'pdb/crash.pdb')));
  });
});
