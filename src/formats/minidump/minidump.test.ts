import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { makeTempDir, removeDir } from '../../../test/helpers/tempdir.js';
import { SymsrvError } from '../../errors.js';
import { BufferSource, withFile, type ByteSource } from '../../io/source.js';
import { fixture } from '../../../test/helpers/readers.js';
import { bpel, buildMinidump, obj2yamlMinidump, rsds } from '../../../test/helpers/dump-readers.js';
import { MAX_MODULES, parseMinidump, Platform, type MinidumpModule } from './minidump.js';

const DUMPS = [
  'minidumps/test.dmp',
  'minidumps/invalid-parameter.dmp',
  'minidumps/simple-crashpad.dmp',
  'minidumps/pipeline-inlines-macos-segv.dmp',
  'minidumps/crash_linux.dmp',
  'minidumps/crash_macos.dmp',
  'minidumps/linux-mini.dmp',
];

const PLATFORMS: Record<string, number> = { Win32NT: Platform.WIN32_NT, MacOSX: Platform.MAC_OS_X, Linux: Platform.LINUX };

/** The CodeView record bytes our parse stands for, to compare with obj2yaml's raw bytes. */
function recordBytes(m: MinidumpModule): Buffer | undefined {
  const cv = m.codeView;
  if (!cv) return undefined;
  if (cv.format === 'RSDS') return rsds(cv.guid, cv.age, cv.path);
  if (cv.format === 'ELF') return bpel(cv.buildId);
  return undefined;
}

/** A source that counts the bytes read, to show no parse reads the dump's memory. */
class Counting implements ByteSource {
  bytes = 0;
  constructor(private readonly inner: ByteSource) {}
  get name(): string {
    return this.inner.name;
  }
  get size(): number {
    return this.inner.size;
  }
  read(position: number, length: number, what?: string): Promise<Buffer> {
    this.bytes += length;
    return this.inner.read(position, length, what);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

async function expectBad(p: Promise<unknown>, message?: RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof SymsrvError, `a SymsrvError, not ${String(err)}`);
    assert.equal(err.code, 'E_BAD_MINIDUMP', err.message);
    if (message) assert.match(err.message, message);
    return true;
  });
}

describe('parseMinidump', () => {
  for (const rel of DUMPS) {
    it(`${rel}: the module list obj2yaml reads, field by field`, async () => {
      const theirs = obj2yamlMinidump(fixture(rel));
      const ours = await withFile(fixture(rel), parseMinidump);
      assert.equal(ours.platform, PLATFORMS[theirs.platform ?? ''], 'platform');
      assert.equal(ours.modules.length, theirs.modules.length, 'module count');
      assert.ok(ours.modules.length > 0);
      ours.modules.forEach((m, i) => {
        const t = theirs.modules[i]!;
        assert.equal(m.base, t.base, `${i} base`);
        assert.equal(m.sizeOfImage, t.size, `${i} size`);
        assert.equal(m.checksum, t.checksum, `${i} checksum`);
        assert.equal(m.timestamp, t.timestamp, `${i} timestamp`);
        assert.equal(m.path, t.name, `${i} name`);
        // obj2yaml prints the record's raw bytes: ours, written back, must be those bytes.
        assert.deepEqual(recordBytes(m), t.codeView, `${i} CodeView record`);
      });
    });
  }

  it('reads only the header, directory, module list, names and CodeView records (not the memory)', async () => {
    const src = new Counting(await readFile(fixture('minidumps/invalid-parameter.dmp')).then((b) => new BufferSource(b, 'dump')));
    const dump = await parseMinidump(src);
    assert.equal(dump.modules.length, 31);
    // 31 modules × 108 bytes + names + records ≈ 9 KB of a 44 KB dump.
    assert.ok(src.bytes < src.size / 3, `read ${src.bytes} of ${src.size} bytes`);
  });

  it('a 6 GB full dump (sparse: its memory after the module list) costs a few KB of reads', async () => {
    const dir = await makeTempDir('symsrv-bigdump-');
    try {
      const path = join(dir, 'full.dmp');
      await writeFile(path, await readFile(fixture('minidumps/test.dmp')));
      await truncate(path, 6 * 1024 ** 3);
      const dump = await withFile(path, async (file) => {
        const src = new Counting(file);
        const d = await parseMinidump(src);
        assert.ok(src.bytes < 64 * 1024, `read ${src.bytes} bytes of ${src.size}`);
        return d;
      });
      assert.equal(dump.modules.length, 13);
    } finally {
      await removeDir(dir);
    }
  });

  it('the malformed dumps of rust-minidump: E_BAD_MINIDUMP naming the file', async () => {
    for (const rel of ['minidumps/malformed/invalid-range.dmp', 'minidumps/malformed/invalid-record-count.dmp']) {
      await expectBad(withFile(fixture(rel), parseMinidump), new RegExp(`${rel.split('/').pop()!.replace('.', '\\.')}`));
    }
  });

  it('not a dump, or a header alone: E_BAD_MINIDUMP', async () => {
    await expectBad(parseMinidump(new BufferSource(Buffer.alloc(10), 'x')), /header/);
    await expectBad(parseMinidump(new BufferSource(Buffer.alloc(64), 'x')), /no MDMP signature/);
  });

  it('every prefix of a real dump: E_BAD_MINIDUMP or a good parse, never another error', async () => {
    const bytes = await readFile(fixture('minidumps/test.dmp'));
    const full = await parseMinidump(new BufferSource(bytes, 'full'));
    for (let n = 0; n < bytes.length; n += 37) {
      try {
        const d = await parseMinidump(new BufferSource(bytes.subarray(0, n), `prefix ${n}`));
        assert.deepEqual(d, full, `prefix ${n} parsed: it must then be the whole module list`);
      } catch (err) {
        assert.ok(err instanceof SymsrvError && err.code === 'E_BAD_MINIDUMP', `prefix ${n}: ${String(err)}`);
      }
    }
  });

  it('corrupt counts, sizes and offsets: E_BAD_MINIDUMP, checked before anything is allocated', async () => {
    const good = buildMinidump(Platform.WIN32_NT, [
      { path: 'C:\\a\\app.exe', timestamp: 0x12345678, sizeOfImage: 0x5000, codeView: rsds(Buffer.alloc(16, 1), 2, 'app.pdb') },
    ]);
    const listAt = 32 + 24 + 56;
    const cases: [string, (b: Buffer) => void, RegExp][] = [
      ['stream count', (b) => b.writeUInt32LE(0x7fffffff, 8), /streams/],
      ['directory offset', (b) => b.writeUInt32LE(0xfffffff0, 12), /stream directory/],
      ['module count', (b) => b.writeUInt32LE(MAX_MODULES + 1, listAt), /modules/],
      ['module count vs stream size', (b) => b.writeUInt32LE(5, listAt), /need/],
      ['module list offset', (b) => b.writeUInt32LE(0xffffff00, 32 + 12 + 8), /module list/],
      ['name offset', (b) => b.writeUInt32LE(0xfffffff0, listAt + 4 + 20), /module name/],
      ['name length', (b) => b.writeUInt32LE(0x7ffffffe, b.readUInt32LE(listAt + 4 + 20)), /module name/],
      ['odd name length', (b) => b.writeUInt32LE(3, b.readUInt32LE(listAt + 4 + 20)), /module name/],
      ['CodeView size', (b) => b.writeUInt32LE(0x100000, listAt + 4 + 76), /CodeView/],
      ['short RSDS', (b) => b.writeUInt32LE(8, listAt + 4 + 76), /RSDS/],
      ['no module list', (b) => b.writeUInt32LE(99, 32 + 12), /no module list/],
      ['system info size', (b) => b.writeUInt32LE(4, 32 + 4), /system info/],
    ];
    assert.equal((await parseMinidump(new BufferSource(good, 'good'))).modules[0]!.path, 'C:\\a\\app.exe');
    for (const [what, corrupt, message] of cases) {
      const b = Buffer.from(good);
      corrupt(b);
      await expectBad(parseMinidump(new BufferSource(b, what)), message);
    }
  });

  it('module names sharing bytes cannot add up past the bound (a small file, gigabytes of strings)', async () => {
    const long = 'C:\\' + 'x'.repeat(32000) + '.dll';
    const modules = Array.from({ length: 2100 }, () => ({ path: long }));
    const b = buildMinidump(Platform.WIN32_NT, modules.slice(0, 1));
    // Grow the module list to 2100 entries that all point at the one name.
    const listAt = 32 + 24 + 56;
    const entry = b.subarray(listAt + 4, listAt + 4 + 108);
    const head = Buffer.from(b.subarray(0, listAt + 4));
    const name = b.subarray(listAt + 4 + 108);
    const list = Buffer.concat(Array.from({ length: modules.length }, () => Buffer.from(entry)));
    const nameAt = listAt + 4 + list.length;
    for (let i = 0; i < modules.length; i++) list.writeUInt32LE(nameAt, i * 108 + 20);
    head.writeUInt32LE(modules.length, listAt);
    head.writeUInt32LE(4 + list.length, 32 + 12 + 4);
    const dump = Buffer.concat([head, list, name]);
    assert.ok(dump.length < 512 * 1024);
    await expectBad(parseMinidump(new BufferSource(dump, 'shared-names')), /names and CodeView records past/);
  });

  it('a Breakpad module list padded to 8 bytes before the first module', async () => {
    const plain = buildMinidump(Platform.LINUX, [{ path: '/usr/lib/libx.so', codeView: bpel(Buffer.from('0123456789abcdef0123', 'hex')) }]);
    const listAt = 32 + 24 + 56;
    // Insert 4 bytes of padding after the count and shift every RVA behind it.
    const padded = Buffer.concat([plain.subarray(0, listAt + 4), Buffer.alloc(4), plain.subarray(listAt + 4)]);
    padded.writeUInt32LE(4 + 4 + 108, 32 + 12 + 4);
    const m = listAt + 8;
    padded.writeUInt32LE(padded.readUInt32LE(m + 20) + 4, m + 20);
    padded.writeUInt32LE(padded.readUInt32LE(m + 80) + 4, m + 80);
    const dump = await parseMinidump(new BufferSource(padded, 'padded'));
    assert.equal(dump.modules[0]!.path, '/usr/lib/libx.so');
    assert.deepEqual(dump.modules[0]!.codeView, { format: 'ELF', buildId: Buffer.from('0123456789abcdef0123', 'hex') });
  });
});
