import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fixture, requireTool } from '../../../test/helpers/readers.js';
import { makeTempDir } from '../../../test/helpers/tempdir.js';
import { isSymsrvError, SymsrvError } from '../../errors.js';
import { expandCab, type Expanded } from './expand.js';

const CABS = fixture('cab');

/** Expands `wanted` from a cabinet file, streamed in small chunks (so structures straddle chunks). */
async function expand(path: string, wanted: string, chunk = 4096): Promise<{ bytes: Buffer; info: Expanded }> {
  const parts: Buffer[] = [];
  const info = await expandCab(createReadStream(path, { highWaterMark: chunk }), { name: path, wanted, write: (c) => void parts.push(c) });
  return { bytes: Buffer.concat(parts), info };
}

/** cabextract's output for one file: the independent reader (libmspack). */
function cabextract(path: string, name: string): Buffer {
  return execFileSync('cabextract', ['-q', '-p', '-F', name, path], { maxBuffer: 64 * 1024 * 1024 });
}

describe('CAB expansion against cabextract (libmspack)', () => {
  before(() => requireTool('cabextract'));

  // [cabinet, file name as cabextract's -F takes it, the name asked for, compression]
  const cases: Array<[string, string, string, Expanded['compression']]> = [
    ['mszip_lzx_qtm.cab', 'mszip.txt', 'mszip.txt', 'mszip'],
    ['mszip_lzx_qtm.cab', 'lzx.txt', 'lzx.txt', 'lzx'],
    ['normal_2files_2folders.cab', 'lzx2.txt', 'lzx2.txt', 'lzx'],
    ['normal_2files_2folders.cab', 'mszip2.txt', 'MSZIP2.TXT', 'mszip'],
    ['reserve_HFD.cab', 'test2.txt', 'test2.txt', 'none'],
    // 33000 bytes: two LZX frames, a block spanning the CFDATA boundary
    ['test_read_format_cab_3.cab', 'zero', 'zero', 'lzx'],
    ['test_read_format_cab_3.cab', 'dir2/file2', 'file2', 'lzx'],
    ['test_read_format_cab_lzx_e8.cab', 'e8.bin', 'e8.bin', 'lzx'],
    ['test_read_format_cab_lzx_16bit.cab', 'lzx16.bin', 'lzx16.bin', 'lzx'],
    ['test_read_format_cab_lzx_literal_control.cab', 'x', 'x', 'lzx'],
    ['test_fuzz.cab', 'random', 'random', 'lzx'],
    ['test_fuzz.cab', 'INSTALL', 'install', 'lzx'],
    // LZX with a 2 MiB window: 26 KB expanding to 14.7 MB (itself a cabinet), 449 frames
    ['large-files-cab.cab', 'large-files.cab', 'large-files.cab', 'lzx'],
  ];
  for (const [cab, name, wanted, compression] of cases) {
    test(`${cab}: ${name} (${compression}) is byte-identical to cabextract's`, async () => {
      const path = join(CABS, cab);
      const { bytes, info } = await expand(path, wanted);
      assert.equal(info.compression, compression);
      assert.equal(info.size, bytes.length);
      assert.ok(bytes.equals(cabextract(path, name)), 'same bytes as cabextract');
    });
  }

  test('a Quantum folder is refused as unsupported, not as bad data', async () => {
    await assert.rejects(expand(join(CABS, 'mszip_lzx_qtm.cab'), 'qtm.txt'), (e) => isSymsrvError(e, 'E_COMPRESSED_UNSUPPORTED'));
  });

  test('a cabinet without the key\'s file: E_INVALID_CONTENT naming what it holds', async () => {
    await assert.rejects(expand(join(CABS, 'reserve_HFD.cab'), 'crash.pdb'), (e) => {
      assert.ok(isSymsrvError(e, 'E_INVALID_CONTENT'));
      assert.match(e.message, /holds no file named crash\.pdb \(it holds test1\.txt, test2\.txt\)/);
      return true;
    });
  });
});

describe('cabinets written by gcab (MSZIP and stored)', () => {
  let tmp: string;
  let pdb: Buffer;
  before(async () => {
    requireTool('cabextract');
    tmp = await makeTempDir('symsrv-cab-');
    pdb = await readFile(fixture('pdb/crash.pdb'));
    await writeFile(join(tmp, 'crash.pdb'), pdb);
    execFileSync('gcab', ['-c', '-z', 'crash.pd_', 'crash.pdb'], { cwd: tmp });
    execFileSync('gcab', ['-c', 'stored.cab', 'crash.pdb'], { cwd: tmp });
  });
  after(() => rm(tmp, { recursive: true, force: true }));

  test('MSZIP (32 blocks, each deflated against the previous 32 KiB) and stored expand to the original', async () => {
    for (const [cab, compression] of [['crash.pd_', 'mszip'], ['stored.cab', 'none']] as const) {
      for (const chunk of [1, 7, 65536]) {
        const { bytes, info } = await expand(join(tmp, cab), 'crash.pdb', chunk);
        assert.equal(info.compression, compression);
        assert.ok(bytes.equals(pdb), `${cab} in ${chunk}-byte chunks`);
      }
      assert.ok(cabextract(join(tmp, cab), 'crash.pdb').equals(pdb));
    }
  });

  test('a flipped byte in a data block fails its CFDATA checksum (cabextract agrees)', async () => {
    const cab = await readFile(join(tmp, 'crash.pd_'));
    cab[cab.length - 100]! ^= 0x01;
    await writeFile(join(tmp, 'flipped.pd_'), cab);
    await assert.rejects(expand(join(tmp, 'flipped.pd_'), 'crash.pdb'), (e) => {
      assert.ok(isSymsrvError(e, 'E_BAD_CAB'));
      assert.match(e.message, /data block \d+ at 0x[0-9a-f]+ fails its checksum/);
      return true;
    });
    assert.throws(() => cabextract(join(tmp, 'flipped.pd_'), 'crash.pdb'));
  });

  test('a cabinet cut anywhere is an E_BAD_CAB, never a short file', async () => {
    const cab = await readFile(join(tmp, 'crash.pd_'));
    for (const len of [0, 10, 40, 69, 80, 1000, cab.length >> 1, cab.length - 1]) {
      await writeFile(join(tmp, 'cut.pd_'), cab.subarray(0, len));
      await assert.rejects(expand(join(tmp, 'cut.pd_'), 'crash.pdb'), (e) => isSymsrvError(e, 'E_BAD_CAB'), `cut at ${len}`);
    }
  });
});

describe('malformed cabinets (libmspack\'s CVE, partial_* and bad_* files; libarchive\'s): a typed error, no hang', () => {
  // The file asked for is the one the cabinet lists, where it lists one; expected code per file.
  const expected: Record<string, [string, SymsrvError['code']]> = {
    'bad_folderindex.cab': ['hello.c', 'E_BAD_CAB'],
    'bad_nofiles.cab': ['file.txt', 'E_BAD_CAB'],
    'bad_nofolders.cab': ['file.txt', 'E_BAD_CAB'],
    'bad_signature.cab': ['file.txt', 'E_BAD_CAB'],
    'cve-2010-2800-mszip-infinite-loop.cab': ['file.txt', 'E_BAD_CAB'],
    'cve-2014-9556-qtm-infinite-loop.cab': ['limerick', 'E_COMPRESSED_UNSUPPORTED'],
    'cve-2014-9732-folders-segfault.cab': ['2', 'E_BAD_CAB'],
    'cve-2015-4470-mszip-over-read.cab': ['limerick', 'E_BAD_CAB'],
    'cve-2015-4471-lzx-under-read.cab': ['file.txt', 'E_BAD_CAB'],
    'cve-2017-11423-fname-overread.cab': ['file.txt', 'E_INVALID_CONTENT'],
    'cve-2018-18584-qtm-max-size-block.cab': ['test1.bin', 'E_COMPRESSED_UNSUPPORTED'],
    'filename-read-violation-1.cab': ['file.txt', 'E_BAD_CAB'],
    'filename-read-violation-2.cab': ['file.txt', 'E_INVALID_CONTENT'],
    'filename-read-violation-3.cab': ['file.txt', 'E_INVALID_CONTENT'],
    'filename-read-violation-4.cab': ['file.txt', 'E_INVALID_CONTENT'],
    'hidden-file-bad-folderid.cab': ['y', 'E_BAD_CAB'],
    'hidden-file-beyond-eof.cab': ['file.txt', 'E_BAD_CAB'],
    'lzx-main-tree-no-lengths.cab': ['file.txt', 'E_BAD_CAB'],
    'lzx-premature-matches.cab': ['file.txt', 'E_BAD_CAB'],
    'test_read_format_cab_lzx_invalid_history.cab': ['x', 'E_BAD_CAB'],
    'test_read_format_cab_lzx_oob.cab': ['L', 'E_BAD_CAB'],
    'test_read_format_cab_skip_malformed.cab': ['@', 'E_BAD_CAB'],
    'test_read_format_cab_multi.p1.cab': ['ones', 'E_BAD_CAB'],
  };

  test('every file in fixtures/cab/malformed is listed here', async () => {
    const names = (await readdir(join(CABS, 'malformed'))).filter((n) => !n.startsWith('partial_'));
    assert.deepEqual(names.sort(), Object.keys(expected).sort());
  });

  for (const [cab, [wanted, code]] of Object.entries(expected)) {
    test(`${cab}: ${code}`, { timeout: 10_000 }, async () => {
      await assert.rejects(expand(join(CABS, 'malformed', cab), wanted), (e) => {
        assert.ok(isSymsrvError(e, code), String(e));
        assert.ok(e.message.includes(cab), 'the message names the cabinet');
        return true;
      });
    });
  }

  test('partial_*: every truncated header is an E_BAD_CAB', { timeout: 10_000 }, async () => {
    const partial = (await readdir(join(CABS, 'malformed'))).filter((n) => n.startsWith('partial_'));
    assert.equal(partial.length, 18);
    for (const cab of partial) {
      // partial_nodata lists hello.c: its folder's data is missing
      await assert.rejects(expand(join(CABS, 'malformed', cab), 'hello.c'), (e) => isSymsrvError(e, 'E_BAD_CAB'), cab);
    }
  });
});
