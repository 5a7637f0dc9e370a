import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startEndlessServer, type EndlessServer } from '../../test/helpers/endless.js';
import { listFiles } from '../../test/helpers/tempdir.js';
import { mountSmallDisk, type SmallDisk } from '../../test/helpers/tmpfs.js';
import { isSymsrvError } from '../errors.js';
import { MSF7_MAGIC } from '../formats/detect.js';
import { parseKey } from '../keys/key.js';
import { Transport } from '../transport/transport.js';
import { checkLength } from './download.js';
import { HttpStore } from './http.js';

const CRASH_PDB = parseKey('crash.pdb/3249D99D0C4049318610F4E4FB0B69361/crash.pdb');
const CRASH_EXE = parseKey('crash.exe/5AB380779000/crash.exe');
const MiB = 1024 * 1024;

describe('regression: an endless 200 body never fills the disk (issue 14, defect 5)', () => {
  let server: EndlessServer;
  let disk: SmallDisk | { skip: string };
  const transport = new Transport({ retries: 0, bodyTimeout: 5000, headersTimeout: 5000 });

  before(async () => {
    server = await startEndlessServer();
    // The downloads land on a 256 MiB tmpfs: without the bounds they fail with ENOSPC there
    // (and not by filling the machine's disk).
    disk = await mountSmallDisk(256 * 1024);
  });
  after(async () => {
    await transport.close();
    await server?.stop();
    if (disk && 'dir' in disk) await disk.unmount();
  });

  async function lookup(t: { skip(reason: string): void }, path: string, key: typeof CRASH_PDB, maxSize?: number) {
    if ('skip' in disk) return t.skip(disk.skip);
    const into = join(disk.dir, path);
    const store = new HttpStore(`${server.url}/${path}`, transport);
    const before = server.sent;
    const error = await store.lookup(key, { into, maxSize }).then(
      () => undefined,
      (e: unknown) => e,
    );
    return { error, sent: server.sent - before, files: await listFiles(into) };
  }

  test('a body past the configured maximum is stopped, nothing is kept', async (t) => {
    const r = await lookup(t, `endless/${MSF7_MAGIC.toString('hex')}`, CRASH_PDB, 8 * MiB);
    if (!r) return;
    assert.ok(isSymsrvError(r.error) && r.error.code === 'E_INVALID_CONTENT', String(r.error));
    assert.match((r.error as Error).message, /more than 8388608 bytes/);
    assert.deepEqual(r.files, []);
    assert.ok(r.sent < 64 * MiB, `${r.sent} bytes were sent`);
  });

  test('a body whose first bytes are no PDB is stopped at once', async (t) => {
    const r = await lookup(t, 'endless/deadbeef00000000000000000000000000000000000000000000000000000000', CRASH_PDB);
    if (!r) return;
    assert.ok(isSymsrvError(r.error) && r.error.code === 'E_INVALID_CONTENT', String(r.error));
    assert.match((r.error as Error).message, /first bytes/);
    assert.deepEqual(r.files, []);
    assert.ok(r.sent < 64 * MiB, `${r.sent} bytes were sent`);
  });

  test('a PE key bounds the size by its SizeOfImage (default maximum)', async (t) => {
    const r = await lookup(t, `endless/4d5a${'00'.repeat(30)}`, CRASH_EXE);
    if (!r) return;
    assert.ok(isSymsrvError(r.error) && r.error.code === 'E_INVALID_CONTENT', String(r.error));
    // 2 × 0x9000 + 64 MiB
    assert.match((r.error as Error).message, /more than 67182592 bytes/);
    assert.deepEqual(r.files, []);
  });

  test('a Content-Length past the bound is refused before the body is read', async (t) => {
    const r = await lookup(t, `announce/${100 * 1024 * MiB}`, CRASH_EXE);
    if (!r) return;
    assert.ok(isSymsrvError(r.error) && r.error.code === 'E_INVALID_CONTENT', String(r.error));
    assert.deepEqual(r.files, []);
  });
});

test('regression: more bytes than announced is not "ended after N of M" (issue 14, defect 14)', () => {
  assert.throws(() => checkLength(12, 10, 'http://h/x'), /sent more than the 10 bytes it announced/);
  assert.throws(() => checkLength(8, 10, 'http://h/x'), /ended after 8 of 10 bytes/);
  checkLength(10, 10, 'http://h/x');
});
