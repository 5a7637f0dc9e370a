import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFile, mkdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { withFile } from '../io/source.js';
import { parseMinidump } from '../formats/minidump/minidump.js';
import { dumpModulesOf } from '../keys/compute.js';
import { startNginx, type NginxServer } from '../../test/helpers/nginx.js';
import { makeTempDir, removeDir } from '../../test/helpers/tempdir.js';
import { fixture, pdbutilYaml, readelfBuildId } from '../../test/helpers/readers.js';
import { buildElfWithBuildId, modulesTable, writeSyntheticPdb } from '../../test/helpers/dump-readers.js';
import { CLI } from '../../test/helpers/cli.js';

/**
 * `symsrv key DUMP`, `symsrv fetch DUMP` and `symsrv shell DUMP` on the fixture dumps, against a
 * real nginx serving a store built from the dumps' module tables: files whose identity matches
 * the dump's keys (PDBs with the recorded GUID and age, read back by llvm-pdbutil; ELF files
 * built by gcc with the recorded build-id, read back by readelf; the real crash_macos binary of
 * crash_macos.dmp), and nginx's access log shows which URLs were asked for, on how many connections.
 */

const TEST_DMP = fixture('minidumps/test.dmp');
const LINUX_DMP = fixture('minidumps/crash_linux.dmp');
const MACOS_DMP = fixture('minidumps/crash_macos.dmp');
const LINUX_MINI_DMP = fixture('minidumps/linux-mini.dmp');
const JOBS = 3;

function symsrv(args: string[], input?: string) {
  const r = spawnSync(process.execPath, [CLI, ...args], {
    encoding: 'utf8',
    ...(input !== undefined ? { input } : {}),
    env: {
      ...process.env,
      _NT_SYMBOL_PATH: undefined,
      _NT_ALT_SYMBOL_PATH: undefined,
      HTTP_PROXY: undefined,
      HTTPS_PROXY: undefined,
      http_proxy: undefined,
      https_proxy: undefined,
      ALL_PROXY: undefined,
      SYMSRV_SHELL_HISTORY: '/dev/null',
    },
    timeout: 120_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

interface Row {
  key: string;
  status: 'found' | 'missing' | 'error';
  path?: string;
  error?: string;
}

describe('crash dumps on the command line', { timeout: 300_000 }, () => {
  let tmp: string;
  let www: string;
  let nginx: NginxServer;
  /** Keys the store can satisfy, by dump. */
  const served = new Set<string>();
  /** test.dmp module 10's key, served with the wrong age. */
  let wrongKey: string;

  const put = async (key: string, from: (path: string) => Promise<void>): Promise<void> => {
    const path = join(www, key);
    await mkdir(dirname(path), { recursive: true });
    await from(path);
  };

  before(async () => {
    tmp = await makeTempDir('symsrv-dump-');
    www = join(tmp, 'www');
    // Windows: PDBs with the GUID and age test.dmp recorded, for modules 0-9 of 13.
    const win = await withFile(TEST_DMP, parseMinidump);
    const winKeys = (await dumpModulesOf(TEST_DMP))!;
    for (let i = 0; i < 11; i++) {
      const cv = win.modules[i]!.codeView!;
      assert.equal(cv.format, 'RSDS');
      if (cv.format !== 'RSDS') continue;
      const key = winKeys[i]!.keys.find((k) => k.kind === 'pdbref')!.key.index;
      if (i === 10) {
        wrongKey = key;
        await put(key, (p) => writeSyntheticPdb(p, cv.guid, cv.age + 1));
      } else {
        await put(key, (p) => writeSyntheticPdb(p, cv.guid, cv.age));
        served.add(key);
      }
    }
    // Linux: ELF files built with the build-ids crash_linux.dmp recorded, for modules 0-5 of 8.
    const linux = (await dumpModulesOf(LINUX_DMP))!;
    for (let i = 0; i < 6; i++) {
      const key = linux[i]!.keys.find((k) => k.kind === 'elf-debug')!.key.index;
      const buildId = /elf-buildid-sym-([0-9a-f]{40})/.exec(key)![1]!;
      const built = await buildElfWithBuildId(tmp, `m${i}`, buildId);
      await put(key, (p) => copyFile(built, p));
      served.add(key);
    }
    // macOS: the real binary of crash_macos.dmp's first module.
    const mac = (await dumpModulesOf(MACOS_DMP))!;
    const macKey = mac[0]!.keys.find((k) => k.kind === 'macho')!.key.index;
    await put(macKey, (p) => copyFile(fixture('minidumps/modules/crash_macos'), p));
    served.add(macKey);
    // Linux: the real binary of linux-mini.dmp's first module (elf/crash has its build-id).
    const mini = (await dumpModulesOf(LINUX_MINI_DMP))!;
    const crashKey = mini[0]!.keys.find((k) => k.kind === 'elf')!.key.index;
    await put(crashKey, (p) => copyFile(fixture('elf/crash'), p));
    served.add(crashKey);
    // Mach-O: the dSYM of macho/crash under its key, and under a second key (the x86_64 slice of
    // Example's fat dSYM) the wrong dSYM, which a fetch must refuse.
    await put('_.dwarf/mach-uuid-sym-67e9247c814e392ba027dbde6748fcbf/_.dwarf', (p) => copyFile(fixture('macho/crash.dSYM/Contents/Resources/DWARF/crash'), p));
    await put('_.dwarf/mach-uuid-sym-3b4566e4491b3dcf94f5ae51f624dd87/_.dwarf', (p) => copyFile(fixture('macho/crash.dSYM/Contents/Resources/DWARF/crash'), p));
    nginx = await startNginx({ root: www });
  });

  after(async () => {
    await nginx?.stop();
    if (tmp) await removeDir(tmp);
  });

  const accessLines = async (): Promise<string[]> => (await readFile(nginx.accessLog, 'utf8').catch(() => '')).split('\n').filter(Boolean);

  test('the store files have the identities the dumps recorded (llvm-pdbutil, readelf)', async () => {
    const win = await withFile(TEST_DMP, parseMinidump);
    const winKeys = (await dumpModulesOf(TEST_DMP))!;
    for (let i = 0; i < 10; i++) {
      const cv = win.modules[i]!.codeView!;
      if (cv.format !== 'RSDS') assert.fail('RSDS');
      const y = pdbutilYaml(join(www, winKeys[i]!.keys[1]!.key.index));
      assert.equal(y.dbiAge, cv.age);
      assert.equal(`${winKeys[i]!.keys[1]!.key.id}`, `${y.guid.replace(/-/g, '').toUpperCase()}${cv.age.toString(16)}`);
    }
    for (const m of (await dumpModulesOf(LINUX_DMP))!.slice(0, 6)) {
      const key = m.keys[1]!.key;
      assert.equal(`elf-buildid-sym-${readelfBuildId(join(www, key.index))}`, key.id);
    }
  });

  test('symsrv key DUMP: every module key of the MODULES.md tables, in module order', () => {
    const tables = modulesTable(fixture('minidumps/MODULES.md'));
    const r = symsrv(['key', TEST_DMP, LINUX_DMP]);
    assert.equal(r.code, 0, r.stderr);
    const expected = [
      ...tables.get('test.dmp')!.flatMap((m) => m.keys.map((k, j) => `${TEST_DMP}\t${j === 0 ? 'pe' : 'pdbref'}\t${k}`)),
      ...tables.get('crash_linux.dmp')!.flatMap((m) => m.keys.map((k, j) => `${LINUX_DMP}\t${j === 0 ? 'elf' : 'elf-debug'}\t${k}`)),
    ];
    assert.deepEqual(r.stdout.trimEnd().split('\n'), expected);
    const j = symsrv(['key', '--json', TEST_DMP]);
    const rows = JSON.parse(j.stdout) as { module: string; key: string }[];
    assert.equal(rows.length, 26);
    assert.deepEqual(rows[2], { file: TEST_DMP, kind: 'pe', key: 'ntdll.dll/411096B4b0000/ntdll.dll', module: 'C:\\WINDOWS\\system32\\ntdll.dll' });
  });

  test('symsrv fetch DUMP: every symbol file at once through one --jobs pool; found files checked, the rest missing', async () => {
    const cache = join(tmp, 'cache');
    const before = (await accessLines()).length;
    const r = symsrv(['fetch', '--json', '--retries', '0', '--jobs', String(JOBS), '-y', `srv*${cache}*${nginx.url}/store`, TEST_DMP, LINUX_DMP]);
    assert.equal(r.code, 1, 'some keys are missing: exit 1 (incomplete)');
    const rows = JSON.parse(r.stdout) as Row[];
    const symbolKeys = [
      ...(await dumpModulesOf(TEST_DMP))!.flatMap((m) => m.keys.filter((k) => k.kind === 'pdbref')),
      ...(await dumpModulesOf(LINUX_DMP))!.flatMap((m) => m.keys.filter((k) => k.kind === 'elf-debug')),
    ].map((k) => k.key.index);
    assert.deepEqual(rows.map((x) => x.key), symbolKeys, 'one row per symbol key, no image key without --images');
    for (const row of rows) {
      if (served.has(row.key)) {
        assert.equal(row.status, 'found', `${row.key}: ${row.error}`);
        assert.deepEqual(await readFile(row.path!), await readFile(join(www, row.key)));
      } else if (row.key === wrongKey) {
        assert.equal(row.status, 'error');
        assert.match(row.error!, /is not .*expected a PDB with GUID \S+ and age 1, found a PDB with GUID \S+ and age 2/);
      } else {
        assert.equal(row.status, 'missing', row.key);
      }
    }
    assert.equal(rows.filter((x) => x.status === 'found').length, 16);
    // nginx saw each key's file asked for, nothing outside the keys, on at most --jobs connections.
    const mine = (await accessLines()).slice(before);
    const paths = mine.map((l) => /"GET (\S+) HTTP/.exec(l)![1]!);
    for (const k of symbolKeys) assert.ok(paths.includes(`/store/${k}`), `GET /store/${k}`);
    for (const p of paths) assert.ok(symbolKeys.some((k) => p.startsWith(`/store/${dirname(k)}/`) || p === '/store/index2.txt'), p);
    const connections = new Set(mine.map((l) => /conn=(\d+)/.exec(l)![1]));
    assert.ok(connections.size <= JOBS, `${connections.size} connections for --jobs ${JOBS}`);
    assert.ok(mine.length > connections.size, 'connections are reused');
  });

  test('symsrv fetch --images DUMP: the binaries too; the macOS binary is the real one, checked by UUID', async () => {
    const cache = join(tmp, 'cache-images');
    const r = symsrv(['fetch', '--json', '--images', '--retries', '0', '-y', `srv*${cache}*${nginx.url}/store`, MACOS_DMP]);
    assert.equal(r.code, 1);
    const rows = JSON.parse(r.stdout) as Row[];
    assert.equal(rows.length, 2 * 43, 'binary and dSYM key per module');
    const found = rows.filter((x) => x.status === 'found');
    assert.deepEqual(found.map((x) => x.key), ['crash_macos/mach-uuid-3f58bc3deabe3361b5fb52a676298598/crash_macos']);
    assert.deepEqual(await readFile(found[0]!.path!), await readFile(fixture('minidumps/modules/crash_macos')));
    assert.ok(rows.every((x) => x.status !== 'error'), JSON.stringify(rows.filter((x) => x.status === 'error')));
  });

  test("symsrv fetch --images DUMP: a Linux module's binary is the real one, checked by build-id", async () => {
    const cache = join(tmp, 'cache-images-linux');
    const r = symsrv(['fetch', '--json', '--images', '--retries', '0', '-y', `srv*${cache}*${nginx.url}/store`, LINUX_MINI_DMP]);
    assert.equal(r.code, 1);
    const rows = JSON.parse(r.stdout) as Row[];
    assert.equal(rows.length, 2 * 8);
    const found = rows.filter((x) => x.status === 'found');
    // libgcc_s.so.1 is the same build in both Linux dumps: its debug file is in the store too.
    assert.deepEqual(found.map((x) => x.key), [
      'crash/elf-buildid-f1c3bcc0279865fe3058404b2831d9e64135386c/crash',
      '_.debug/elf-buildid-sym-68220ae2c65d65c1b6aaa12fa6765a6ec2f5f434/_.debug',
    ]);
    assert.deepEqual(await readFile(found[0]!.path!), await readFile(fixture('elf/crash')));
  });

  test('symsrv fetch MACH-O: the dSYM by UUID (SSQP _.dwarf key); a dSYM of another UUID is refused', async () => {
    const cache = join(tmp, 'cache-macho');
    const r = symsrv(['fetch', '--json', '--retries', '0', '-y', `srv*${cache}*${nginx.url}/store`, fixture('macho/crash'), fixture('macho/Example.framework.dSYM/Contents/Resources/DWARF/Example')]);
    assert.equal(r.code, 1);
    const rows = JSON.parse(r.stdout) as Row[];
    assert.deepEqual(
      rows.map((x) => [x.key, x.status]),
      [
        ['_.dwarf/mach-uuid-sym-67e9247c814e392ba027dbde6748fcbf/_.dwarf', 'found'],
        ['_.dwarf/mach-uuid-sym-3b4566e4491b3dcf94f5ae51f624dd87/_.dwarf', 'error'],
        ['_.dwarf/mach-uuid-sym-2556f1515a403847be6ce2c1b5be4df8/_.dwarf', 'missing'],
      ],
    );
    assert.deepEqual(await readFile(rows[0]!.path!), await readFile(fixture('macho/crash.dSYM/Contents/Resources/DWARF/crash')));
    assert.match(rows[1]!.error!, /expected a Mach-O file with UUID 3b4566e4491b3dcf94f5ae51f624dd87, found a Mach-O file with UUID 67e9247c814e392ba027dbde6748fcbf/);
  });

  test('a dump inside a folder is passed over, with a note: dumps are fetched when named', async () => {
    const dir = join(tmp, 'folder');
    await mkdir(dir, { recursive: true });
    await copyFile(TEST_DMP, join(dir, 'test.dmp'));
    await copyFile(fixture('macho/crash'), join(dir, 'crash'));
    const r = symsrv(['fetch', '--json', '--retries', '0', '-y', `srv*${join(tmp, 'cache-folder')}*${nginx.url}/store`, dir]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.deepEqual(
      (JSON.parse(r.stdout) as Row[]).map((x) => [x.key, x.status]),
      [['_.dwarf/mach-uuid-sym-67e9247c814e392ba027dbde6748fcbf/_.dwarf', 'found']],
    );
    assert.match(r.stderr, /skipped .*test\.dmp: a crash dump: name it as a TARGET/);
  });

  test('a malformed dump: one line naming it, exit 2, no request sent', async () => {
    const before = (await accessLines()).length;
    for (const bad of ['invalid-range.dmp', 'invalid-record-count.dmp']) {
      const path = fixture(`minidumps/malformed/${bad}`);
      const r = symsrv(['fetch', '-y', `srv*${join(tmp, 'c3')}*${nginx.url}/store`, path]);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, new RegExp(`^symsrv: bad minidump .* in ${path.replace(/[.]/g, '\\.')} at offset 0x[0-9a-f]+\\n$`));
      const k = symsrv(['key', path]);
      assert.equal(k.code, 2);
      assert.doesNotMatch(k.stderr, /\n\s+at /, 'no stack trace');
    }
    assert.equal((await accessLines()).length, before);
  });

  test('symsrv shell DUMP: lm lists the dump modules; .reload looks them all up', async () => {
    const cache = join(tmp, 'cache-shell');
    const r = symsrv(['shell', '-y', `srv*${cache}*${nginx.url}/store`, TEST_DMP], 'lm\n.reload\nlm v m ntdll\nq\n');
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.split('\n');
    const lm = lines.slice(lines.indexOf('symsrv> lm') + 2, lines.indexOf('symsrv> .reload'));
    assert.deepEqual(
      lm.map((l) => l.split(/\s+/).slice(0, 2).join(' ')),
      ['test_app deferred', 'ntdll deferred', 'kernel32 deferred', 'ole32 deferred', 'advapi32 deferred', 'rpcrt4 deferred', 'gdi32 deferred', 'user32 deferred', 'msvcrt deferred', 'imm32 deferred', 'dbghelp deferred', 'version deferred', 'psapi deferred'],
    );
    assert.match(r.stdout, /\ntest_app: loaded .*test_app\.pdb\n/);
    assert.match(r.stdout, /\nversion: missing /);
    assert.match(r.stdout, /\ndbghelp: error .*age/);
    assert.match(r.stdout, /\n {4}image: {2}C:\\WINDOWS\\system32\\ntdll\.dll\n {4}key: {4}ntdll\.pdb\/36515FB5D04345E491F672FA2E2878C02\/ntdll\.pdb \(pdbref\)\n/);
  });
});
