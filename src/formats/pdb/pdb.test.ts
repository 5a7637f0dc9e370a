import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, open, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SymsrvError } from '../../errors.js';
import { BufferSource, FileSource, withFile, type ByteSource } from '../../io/source.js';
import { guidText } from '../../keys/key.js';
import {
  buildPePdb,
  dbiStream,
  fixture,
  layoutMsf,
  pdbInfoStream,
  pdbutilStreamDirectory,
  pdbutilSummary,
  pdbutilYaml,
  writeMsfFile,
} from '../../../test/helpers/readers.js';
import { MsfFile } from '../msf/msf.js';
import { readPdbIdentity, type PdbIdentity } from './pdb.js';

const identityOf = (path: string): Promise<PdbIdentity> => withFile(path, readPdbIdentity);

/** Our identity against llvm-pdbutil's: summary (GUID, signature) and pdb2yaml (both ages). */
async function assertSameAsPdbutil(path: string): Promise<PdbIdentity> {
  const ours = await identityOf(path);
  const summary = pdbutilSummary(path);
  const yaml = pdbutilYaml(path);
  assert.equal(guidText(ours.guid), summary.guid, 'GUID (summary)');
  assert.equal(guidText(ours.guid), yaml.guid, 'GUID (pdb2yaml)');
  assert.equal(ours.signature, summary.signature, 'signature');
  assert.equal(ours.age, yaml.dbiAge, 'DBI age');
  assert.equal(ours.infoAge, yaml.infoAge, 'info-stream age');
  return ours;
}

async function expectCode(p: Promise<unknown>, code: string, label: string): Promise<SymsrvError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof SymsrvError, `${label}: expected a SymsrvError, got ${String(err)}`);
    assert.equal(err.code, code, `${label}: ${err.message}`);
    return err;
  }
  assert.fail(`${label}: expected ${code}, but it was accepted`);
}

/** Writes `value` as a u32 at `offset` of the file at `path` (a derived copy, never a fixture). */
async function patchU32(path: string, offset: number, value: number): Promise<void> {
  const fh = await open(path, 'r+');
  try {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(value, 0);
    await fh.write(b, 0, 4, offset);
  } finally {
    await fh.close();
  }
}

/** A FileSource that counts the bytes read through it. */
class Counting implements ByteSource {
  bytesRead = 0;
  constructor(private readonly inner: ByteSource) {}
  get name(): string {
    return this.inner.name;
  }
  get size(): number {
    return this.inner.size;
  }
  read(position: number, length: number, what?: string): Promise<Buffer> {
    this.bytesRead += length;
    return this.inner.read(position, length, what);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

describe('readPdbIdentity on the fixtures, against llvm-pdbutil', () => {
  const expected: Record<string, [string, number]> = {
    'pdb/HelloWorld.pdb': ['99891B3ED7AE4C3BABFF8A2B4A9B0C43', 1],
    'pdb/crash.pdb': ['3249D99D0C4049318610F4E4FB0B6936', 1],
    'pdb/CrashWithException.pdb': ['F535C5FB2AE84BB8AA206C30BE566C5A', 1],
  };
  for (const [rel, [guid, age]] of Object.entries(expected)) {
    it(rel, async () => {
      const id = await assertSameAsPdbutil(fixture(rel));
      assert.equal(guidText(id.guid), guid, 'GUID from the fixtures README');
      assert.equal(id.age, age);
    });
  }
});

describe('readPdbIdentity on PDBs built by lld-link-14', () => {
  let dir = '';
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'symsrv-pdb-'));
  });
  after(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  for (const [arch, kind, pageSize] of [
    ['x86', 'exe', undefined],
    ['x64', 'exe', undefined],
    ['x86', 'dll', undefined],
    ['x64', 'dll', 8192],
  ] as const) {
    it(`${arch} ${kind}${pageSize ? ` /pdbpagesize:${pageSize}` : ''}`, async () => {
      const { pdb } = buildPePdb(dir, { arch, kind, name: `${arch}${kind}${pageSize ?? ''}`, pdbPageSize: pageSize });
      const id = await assertSameAsPdbutil(pdb);
      // lld's GUID is a content hash whose last eight bytes read "LLD PDB." (pe-pdb-with-clang.md).
      assert.equal(id.guid.subarray(8).toString('latin1'), 'LLD PDB.');
    });
  }

  it('uses the DBI age, not the info-stream age, when the two differ', async () => {
    const { pdb } = buildPePdb(dir, { arch: 'x64', kind: 'exe', name: 'ages' });
    // Stream 1's first block, as llvm-pdbutil reads the directory (independently of our reader).
    const infoBlock = pdbutilStreamDirectory(pdb).blocks[1]![0]!;
    const blockSize = pdbutilSummary(pdb).blockSize;
    await patchU32(pdb, infoBlock * blockSize + 8, 7);
    // Our reader locates the same byte.
    await withFile(pdb, async (src) => {
      const info = await (await MsfFile.open(src)).stream(1);
      assert.equal(info.fileOffset(8), infoBlock * blockSize + 8);
    });
    const id = await assertSameAsPdbutil(pdb);
    assert.equal(id.infoAge, 7);
    assert.equal(id.age, 1);
    // `dump --summary` prints the info-stream age: it is not the key's age.
    assert.equal(pdbutilSummary(pdb).age, 7);

    // And the other way round: bump the DBI age only.
    const dbiBlock = pdbutilStreamDirectory(pdb).blocks[3]![0]!;
    await patchU32(pdb, dbiBlock * blockSize + 8, 0x1a);
    const id2 = await assertSameAsPdbutil(pdb);
    assert.deepEqual([id2.age, id2.infoAge], [0x1a, 7]);
  });

  it('a PDB past 4 GB (sparse, 8 KiB blocks, a stream straddling 2^32) reads in a few pages; llvm-pdbutil agrees', async () => {
    const { pdb } = buildPePdb(dir, { arch: 'x64', kind: 'dll', name: 'big', pdbPageSize: 8192 });
    const streams = await withFile(pdb, async (src) => {
      const msf = await MsfFile.open(src);
      const out: (Buffer | null)[] = [];
      for (let i = 0; i < msf.streamCount; i++) out.push(msf.isNilStream(i) ? null : Buffer.from(await (await msf.stream(i)).read(0, msf.streamSize(i))));
      return out;
    });
    // Stream 0 (the old directory, unused by readers) gets three blocks from 2^32 - 8192 on.
    const filler = Buffer.alloc(3 * 8192 - 100);
    for (let i = 0; i < filler.length; i++) filler[i] = i % 251;
    streams[0] = filler;
    const firstBlock = 2 ** 32 / 8192 - 1;
    const image = layoutMsf({ blockSize: 8192, streams, firstBlock });
    const big = join(dir, 'big-sparse.pdb');
    await writeMsfFile(big, image);
    const st = await stat(big);
    assert.ok(st.size > 2 ** 32, `size ${st.size}`);
    assert.ok(st.blocks * 512 < 16 * 1024 * 1024, 'the file is sparse');

    const ref = await identityOf(pdb);
    const src = new Counting(await FileSource.open(big));
    try {
      assert.deepEqual(await readPdbIdentity(src), ref);
      assert.ok(src.bytesRead < 64 * 1024, `read ${src.bytesRead} bytes`);
      const msf = await MsfFile.open(src);
      const s0 = await msf.stream(0);
      assert.equal(s0.fileOffset(0), 2 ** 32 - 8192);
      assert.ok(s0.fileOffset(8192) >= 2 ** 32);
      assert.deepEqual(await s0.read(8000, 400), filler.subarray(8000, 8400), 'a read across the 4 GB boundary');
      assert.deepEqual(await s0.read(0, filler.length), filler);
    } finally {
      await src.close();
    }
    await assertSameAsPdbutil(big);
    assert.deepEqual(pdbutilStreamDirectory(big).blocks[0], [firstBlock, firstBlock + 1, firstBlock + 2]);
  });
});

describe('readPdbIdentity: missing streams', () => {
  const guid = Buffer.from('00112233445566778899aabbccddeeff', 'hex');
  const src = (streams: (Buffer | null)[]): ByteSource => {
    const image = layoutMsf({ blockSize: 512, streams });
    const b = Buffer.alloc(image.numBlocks * 512);
    for (const [i, block] of image.blocks) block.copy(b, i * 512);
    return new BufferSource(b, 'synthetic.pdb');
  };

  it('reads a synthetic PDB whose DBI age differs', async () => {
    const id = await readPdbIdentity(src([Buffer.alloc(0), pdbInfoStream(0x1234, 2, guid), Buffer.alloc(56), dbiStream(9)]));
    assert.deepEqual(id, { guid, age: 9, infoAge: 2, signature: 0x1234 });
  });
  it('falls back to the info-stream age without a DBI stream', async () => {
    assert.equal((await readPdbIdentity(src([Buffer.alloc(0), pdbInfoStream(1, 4, guid), Buffer.alloc(56)]))).age, 4);
    assert.equal((await readPdbIdentity(src([Buffer.alloc(0), pdbInfoStream(1, 4, guid), Buffer.alloc(56), null]))).age, 4);
    assert.equal((await readPdbIdentity(src([Buffer.alloc(0), pdbInfoStream(1, 4, guid), Buffer.alloc(56), Buffer.alloc(0)]))).age, 4);
  });
  it('falls back to the info-stream age for a DBI header without the new signature', async () => {
    const old = dbiStream(9);
    old.writeInt32LE(0, 0);
    assert.equal((await readPdbIdentity(src([Buffer.alloc(0), pdbInfoStream(1, 4, guid), Buffer.alloc(56), old]))).age, 4);
  });
  it('no info stream is E_BAD_PDB', async () => {
    await expectCode(readPdbIdentity(src([Buffer.alloc(0)])), 'E_BAD_PDB', 'no stream 1');
    await expectCode(readPdbIdentity(src([Buffer.alloc(0), Buffer.alloc(10)])), 'E_BAD_PDB', 'short stream 1');
  });
  it('not an MSF file is E_BAD_PDB', async () => {
    await expectCode(readPdbIdentity(new BufferSource(Buffer.alloc(4096, 0x41), 'a.pdb')), 'E_BAD_PDB', 'AAAA');
  });
});
