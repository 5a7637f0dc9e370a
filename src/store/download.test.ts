import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startNginx, type NginxServer } from '../../test/helpers/nginx.js';
import { buildStore } from '../../test/helpers/store.js';
import { listFiles, makeTempDir, removeDir } from '../../test/helpers/tempdir.js';
import { isSymsrvError } from '../errors.js';
import { parseKey } from '../keys/key.js';
import { Transport } from '../transport/transport.js';
import { ensureDir } from './atomic.js';
import { HttpStore } from './http.js';

const FIX = new URL('../../../test/fixtures/', import.meta.url).pathname;
const CRASH_EXE = parseKey('crash.exe/5AB380779000/crash.exe');
// A key whose form names no format: only the HTML check and the size bound apply, so any 2 MiB serves.
const BIG = parseKey('big.dat/0123ABCD/big.dat');

describe('downloads into a store (issue 14, defects 13 and 14)', () => {
  let tmp: string;
  let nginx: NginxServer;
  let big: Buffer;
  const transport = new Transport({ retries: 0 });

  before(async () => {
    tmp = await makeTempDir('symsrv-download-');
    big = randomBytes(2 * 1024 * 1024);
    const www = join(tmp, 'www');
    await mkdir(join(www, 'two', BIG.name, BIG.id), { recursive: true });
    await writeFile(join(www, 'two', BIG.name, BIG.id, BIG.name), big);
    // crash.exe cut inside its last section: whole headers, a correct Content-Length from nginx.
    const exe = await readFile(join(FIX, 'pe/crash.exe'));
    await writeFile(join(tmp, 'cut.exe'), exe.subarray(0, exe.length - 512));
    await buildStore(join(www, 'cut'), [{ path: join(tmp, 'cut.exe'), key: CRASH_EXE.index }]);
    nginx = await startNginx({ root: www });
  });
  after(async () => {
    await transport.close();
    await nginx?.stop();
    await removeDir(tmp);
  });

  test('regression: a folder removed mid-session is made again for a download above 1 MiB', async () => {
    const into = join(tmp, 'vanish', 'big.dat', BIG.id);
    await ensureDir(into); // known to this session...
    await rm(join(tmp, 'vanish'), { recursive: true }); // ...then cleared behind its back
    const r = await new HttpStore(`${nginx.url}/store/two`, transport).lookup(BIG, { into });
    assert.equal(r.status, 'found');
    assert.deepEqual(await readFile(join(into, BIG.name)), big);
  });

  test('regression: a PE cut inside its last section is refused, nothing is cached', async () => {
    const into = join(tmp, 'cutinto');
    await assert.rejects(new HttpStore(`${nginx.url}/store/cut`, transport).lookup(CRASH_EXE, { into }), (e) => {
      assert.ok(isSymsrvError(e) && e.code === 'E_INVALID_CONTENT', String(e));
      assert.match(e.message, /cut off: its sections' data ends at 19968 bytes, the file has 19456/);
      return true;
    });
    assert.deepEqual(await listFiles(into), []);
  });
});
