import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SymsrvError } from '../../errors.js';
import { BufferSource, withFile, type ByteSource } from '../../io/source.js';
import {
  buildPePdb,
  fixture,
  layoutMsf,
  pdbutilStreamDirectory,
  pdbutilSummary,
  pdbutilYaml,
  writeMsfFile,
  type MsfImage,
} from '../../../test/helpers/readers.js';
import { MsfFile, NIL_STREAM_SIZE } from './msf.js';

const FIXTURE_PDBS = ['pdb/HelloWorld.pdb', 'pdb/crash.pdb', 'pdb/CrashWithException.pdb'];

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

/** Our MSF reading of `path` against llvm-pdbutil's (superblock, directory, every stream's blocks). */
async function assertSameAsPdbutil(path: string): Promise<void> {
  const yaml = pdbutilYaml(path);
  const dir = pdbutilStreamDirectory(path);
  await withFile(path, async (src) => {
    const msf = await MsfFile.open(src);
    const sb = msf.superblock;
    assert.equal(sb.blockSize, yaml.blockSize);
    assert.equal(sb.freeBlockMapBlock, yaml.freeBlockMap);
    assert.equal(sb.numBlocks, yaml.numBlocks);
    assert.equal(sb.numDirectoryBytes, yaml.numDirectoryBytes);
    assert.equal(sb.blockMapAddrs[0], yaml.blockMapAddr);
    assert.equal(msf.streamCount, dir.sizes.length);
    for (let i = 0; i < msf.streamCount; i++) {
      const theirs = dir.sizes[i]!;
      assert.equal(msf.streamSize(i), theirs === NIL_STREAM_SIZE ? 0 : theirs, `stream ${i} size`);
      assert.deepEqual(await msf.streamBlocks(i), dir.blocks[i], `stream ${i} blocks`);
    }
  });
}

/** Every stream's bytes, read through our paged views. */
async function allStreams(src: ByteSource): Promise<(Buffer | null)[]> {
  const msf = await MsfFile.open(src);
  const out: (Buffer | null)[] = [];
  for (let i = 0; i < msf.streamCount; i++) {
    out.push(msf.isNilStream(i) ? null : Buffer.from(await (await msf.stream(i)).read(0, msf.streamSize(i))));
  }
  return out;
}

/**
 * A ByteSource over a sparse MSF image held as a map of blocks: a file of any size (here up to
 * 2^47 bytes) without writing it anywhere. Counts the bytes served to show reads stay small.
 */
class SparseSource implements ByteSource {
  bytesRead = 0;
  constructor(
    private readonly image: MsfImage,
    readonly name = 'sparse.pdb',
  ) {}
  get size(): number {
    return this.image.numBlocks * this.image.blockSize;
  }
  async read(position: number, length: number): Promise<Buffer> {
    assert.ok(position + length <= this.size, 'read inside the file');
    this.bytesRead += length;
    const bs = this.image.blockSize;
    const out = Buffer.alloc(length);
    for (let done = 0; done < length; ) {
      const block = Math.floor((position + done) / bs);
      const within = position + done - block * bs;
      const n = Math.min(bs - within, length - done);
      this.image.blocks.get(block)?.copy(out, done, within, within + n);
      done += n;
    }
    return out;
  }
  async close(): Promise<void> {}
}

describe('MsfFile on the fixtures, against llvm-pdbutil', () => {
  for (const rel of FIXTURE_PDBS) {
    it(rel, () => assertSameAsPdbutil(fixture(rel)));
  }
});

describe('MsfFile on PDBs built by lld-link-14, against llvm-pdbutil', () => {
  let dir = '';
  const pdbs: Record<string, string> = {};
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'symsrv-msf-'));
    pdbs.x86 = buildPePdb(dir, { arch: 'x86', kind: 'exe', name: 'a32' }).pdb;
    pdbs.x64 = buildPePdb(dir, { arch: 'x64', kind: 'dll', name: 'b64' }).pdb;
    pdbs.page8k = buildPePdb(dir, { arch: 'x64', kind: 'exe', name: 'c8k', pdbPageSize: 8192 }).pdb;
  });
  after(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });
  for (const name of ['x86', 'x64', 'page8k']) {
    it(name, () => assertSameAsPdbutil(pdbs[name]!));
  }
  it('/pdbpagesize:8192 gives 8 KiB blocks', async () => {
    await withFile(pdbs.page8k!, async (src) => assert.equal((await MsfFile.open(src)).blockSize, 8192));
  });

  it('a real PDB re-laid out in 512-byte blocks, each stream backwards, reads back the same (llvm-pdbutil agrees)', async () => {
    const streams = await withFile(fixture('pdb/crash.pdb'), allStreams);
    const image = layoutMsf({ blockSize: 512, streams, reverse: true });
    const path = join(dir, 'relaid.pdb');
    await writeMsfFile(path, image);
    await assertSameAsPdbutil(path);
    assert.deepEqual(pdbutilSummary(path).guid, pdbutilSummary(fixture('pdb/crash.pdb')).guid);
    await withFile(path, async (src) => {
      assert.deepEqual(await allStreams(src), streams);
      // Reads at odd positions and lengths cross block boundaries in every way.
      const msf = await MsfFile.open(src);
      const s = await msf.stream(2);
      const whole = streams[2]!;
      for (const [pos, len] of [
        [0, 1],
        [511, 2],
        [500, 1100],
        [1023, 513],
        [whole.length - 1, 1],
        [7, whole.length - 7],
      ] as const) {
        assert.deepEqual(await s.read(pos, len), whole.subarray(pos, pos + len), `read(${pos}, ${len})`);
      }
      assert.equal(s.fileOffset(0), image.streamBlocks[2]![0]! * 512);
      assert.equal(s.fileOffset(513), image.streamBlocks[2]![1]! * 512 + 1);
    });
  });
});

describe('MsfFile: paged views and large files', () => {
  it('maps reads onto blocks at offsets up to 2^47 (block size 32768, block indices near 2^32) in a few pages', async () => {
    const data = Buffer.alloc(100_000);
    for (let i = 0; i < data.length; i++) data[i] = (i * 7 + (i >> 8)) & 0xff;
    const firstBlock = 0xffff0000;
    const image = layoutMsf({ blockSize: 32768, streams: [Buffer.alloc(0), data, null], firstBlock, reverse: true });
    const src = new SparseSource(image);
    assert.ok(src.size > 2 ** 46);
    const msf = await MsfFile.open(src);
    assert.equal(msf.streamCount, 3);
    assert.equal(msf.isNilStream(2), true);
    assert.equal(msf.streamSize(2), 0);
    const s = await msf.stream(1);
    assert.deepEqual(await s.read(0, data.length), data);
    assert.deepEqual(await s.read(32760, 20), data.subarray(32760, 32780));
    assert.equal(s.fileOffset(0), (firstBlock + 3) * 32768, 'the first block of a backwards stream is its last');
    assert.ok(s.fileOffset(0) > 2 ** 32 * 32768 - 2 ** 33);
    assert.ok(src.bytesRead < 400_000, `read ${src.bytesRead} bytes`);
  });

  it('reads a directory whose block list fills more than one block map block', async () => {
    // 512-byte blocks hold 128 indices: a directory of more than 128 blocks (64 KiB) needs two map blocks.
    const streams: (Buffer | null)[] = [Buffer.from('first'), Buffer.alloc(3000, 1)];
    for (let i = 0; i < 20_000; i++) streams.push(null);
    streams.push(Buffer.from('last stream'));
    const image = layoutMsf({ blockSize: 512, streams });
    assert.ok(image.blockMapAddrs.length >= 2, `${image.blockMapAddrs.length} map blocks`);
    const msf = await MsfFile.open(new SparseSource(image));
    assert.deepEqual(msf.superblock.blockMapAddrs, image.blockMapAddrs);
    assert.equal(msf.streamCount, streams.length);
    const last = await msf.stream(streams.length - 1);
    assert.equal((await last.read(0, last.size)).toString(), 'last stream');
    assert.deepEqual(await (await msf.stream(1)).read(0, 3000), Buffer.alloc(3000, 1));
  });

  it('a read past the end of a stream is E_TRUNCATED naming the stream', async () => {
    const msf = await MsfFile.open(new SparseSource(layoutMsf({ blockSize: 512, streams: [Buffer.alloc(0), Buffer.alloc(600)] })));
    const s = await msf.stream(1);
    const err = await expectCode(s.read(590, 20, 'a record'), 'E_TRUNCATED', 'past end');
    assert.match(err.message, /sparse\.pdb stream 1: a record at offset 0x24e/);
  });

  it('asking for a stream the file does not have is E_BAD_PDB', async () => {
    const msf = await MsfFile.open(new SparseSource(layoutMsf({ blockSize: 512, streams: [Buffer.alloc(0)] })));
    await expectCode(msf.stream(3), 'E_BAD_PDB', 'no stream 3');
  });
});

describe('MsfFile on corrupt files: E_BAD_PDB with the offset', () => {
  let good = Buffer.alloc(0);
  before(async () => {
    good = await readFile(fixture('pdb/HelloWorld.pdb'));
  });
  const derive = (patch: (b: Buffer) => void): BufferSource => {
    const b = Buffer.from(good);
    patch(b);
    return new BufferSource(b, 'bad.pdb');
  };

  it('bad magic', async () => {
    const err = await expectCode(MsfFile.open(derive((b) => b.write('X', 0))), 'E_BAD_PDB', 'magic');
    assert.match(err.message, /bad MSF superblock .* in bad\.pdb at offset 0x0/);
  });
  for (const size of [0, 256, 1000, 4097, 65536]) {
    it(`block size ${size}`, async () => {
      const err = await expectCode(MsfFile.open(derive((b) => b.writeUInt32LE(size, 32))), 'E_BAD_PDB', 'block size');
      assert.match(err.message, /at offset 0x20/);
    });
  }
  it('free block map in block 7', async () => {
    await expectCode(MsfFile.open(derive((b) => b.writeUInt32LE(7, 36))), 'E_BAD_PDB', 'fpm');
  });
  it('NumBlocks larger than the file', async () => {
    const err = await expectCode(MsfFile.open(derive((b) => b.writeUInt32LE(24, 40))), 'E_BAD_PDB', 'NumBlocks');
    assert.match(err.message, /at offset 0x28/);
  });
  it('a file cut in half', async () => {
    await expectCode(MsfFile.open(new BufferSource(good.subarray(0, good.length / 2), 'half.pdb')), 'E_BAD_PDB', 'half');
  });
  it('a file shorter than the superblock', async () => {
    await expectCode(MsfFile.open(new BufferSource(good.subarray(0, 40), 'tiny.pdb')), 'E_TRUNCATED', 'tiny');
  });
  for (const size of [0, 0xfffffff0, 23 * 512 + 1]) {
    it(`directory size ${size}`, async () => {
      const err = await expectCode(MsfFile.open(derive((b) => b.writeUInt32LE(size, 44))), 'E_BAD_PDB', 'directory size');
      assert.match(err.message, /at offset 0x2c/);
    });
  }
  it('a directory size that needs more block map blocks than the superblock lists', async () => {
    // 512-byte blocks: 115 map blocks fit after offset 52; 120 × 128 directory blocks do not.
    const image = layoutMsf({ blockSize: 512, streams: [Buffer.alloc(0)] });
    image.numBlocks = 20_000;
    image.blocks.get(0)!.writeUInt32LE(20_000, 40);
    image.blocks.get(0)!.writeUInt32LE(120 * 128 * 512, 44);
    await expectCode(MsfFile.open(new SparseSource(image)), 'E_BAD_PDB', 'map blocks');
  });
  it('block map address past NumBlocks', async () => {
    const err = await expectCode(MsfFile.open(derive((b) => b.writeUInt32LE(23, 52))), 'E_BAD_PDB', 'block map addr');
    assert.match(err.message, /at offset 0x34/);
  });
  it('a directory block index past NumBlocks', async () => {
    const err = await expectCode(
      MsfFile.open(derive((b) => b.writeUInt32LE(9999, b.readUInt32LE(52) * 512))),
      'E_BAD_PDB',
      'directory block',
    );
    assert.match(err.message, new RegExp(`at offset 0x${(21 * 512).toString(16)}`));
  });
  it('a stream count that does not fit the directory', async () => {
    await expectCode(MsfFile.open(derive((b) => b.writeUInt32LE(1000, 20 * 512))), 'E_BAD_PDB', 'stream count');
  });
  it('a stream larger than the file', async () => {
    await expectCode(MsfFile.open(derive((b) => b.writeUInt32LE(0x7fffffff, 20 * 512 + 8))), 'E_BAD_PDB', 'stream size');
  });
  it('stream block lists longer than the directory', async () => {
    await expectCode(MsfFile.open(derive((b) => b.writeUInt32LE(5 * 512, 20 * 512 + 8))), 'E_BAD_PDB', 'block lists');
  });
  it('a stream block index past NumBlocks (found when the stream is opened)', async () => {
    // HelloWorld.pdb: directory in block 20 (llvm-pdbutil), 14 streams; stream 0's first block follows the sizes.
    const src = derive((b) => b.writeUInt32LE(500, 20 * 512 + 4 + 14 * 4));
    const msf = await MsfFile.open(src);
    const err = await expectCode(msf.stream(0), 'E_BAD_PDB', 'stream block');
    assert.match(err.message, /block 0 of stream 0 is 500/);
  });
});
