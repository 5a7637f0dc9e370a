import assert from 'node:assert/strict';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startFaultServer } from '../../test/helpers/faults.js';
import { startNginx, type NginxServer } from '../../test/helpers/nginx.js';
import { buildStore, writeMessagePointer, writePacked, writePointer } from '../../test/helpers/store.js';
import { listFiles as files, makeTempDir } from '../../test/helpers/tempdir.js';
import { isSymsrvError } from '../errors.js';
import { parseKey } from '../keys/key.js';
import { Transport } from '../transport/transport.js';
import { HttpStore } from './http.js';
import type { ProbeEvent } from './types.js';

const FIX = new URL('../../../test/fixtures/', import.meta.url).pathname;
const CRASH_PDB = parseKey('crash.pdb/3249D99D0C4049318610F4E4FB0B69361/crash.pdb');
const CWE_PDB = parseKey('CrashWithException.pdb/F535C5FB2AE84BB8AA206C30BE566C5A1/CrashWithException.pdb');
const HELLO_PDB = parseKey('HelloWorld.pdb/99891B3ED7AE4C3BABFF8A2B4A9B0C431/HelloWorld.pdb');
const CRASH_EXE = parseKey('crash.exe/5AB380779000/crash.exe');
const MISSING = parseKey('nothere.pdb/0123456789ABCDEF0123456789ABCDEF1/nothere.pdb');


describe('HttpStore against nginx', () => {
  let tmp: string;
  let nginx: NginxServer;
  let faults: Awaited<ReturnType<typeof startFaultServer>>;
  const transport = new Transport({ retries: 2, backoff: 10, maxBackoff: 20, bodyTimeout: 2000, headersTimeout: 2000 });

  before(async () => {
    tmp = await makeTempDir('symsrv-http-');
    const root = join(tmp, 'www');
    await mkdir(root);
    await buildStore(join(root, 'two'), [
      { path: join(FIX, 'pdb/crash.pdb'), key: CRASH_PDB.index },
      { path: join(FIX, 'pe/crash.exe'), key: CRASH_EXE.index },
      // the wrong build under a key: must be refused, never cached
      { path: join(FIX, 'pdb/HelloWorld.pdb'), key: CWE_PDB.index },
    ]);
    await buildStore(join(root, 'three'), [{ path: join(FIX, 'pdb/crash.pdb'), key: CRASH_PDB.index }], { threeTier: true });
    // compressed entries only (CABs named .pd_, made by gcab as SymStore /compress makes them)
    await writePacked(join(root, 'packed'), CRASH_PDB, join(FIX, 'pdb/crash.pdb'));
    // a cabinet whose header is cut short
    await mkdir(join(root, 'packed', HELLO_PDB.name, HELLO_PDB.id), { recursive: true });
    await writeFile(join(root, 'packed', HELLO_PDB.name, HELLO_PDB.id, 'HelloWorld.pd_'), Buffer.from('MSCF\0\0\0\0'));
    // pointers
    await mkdir(join(root, 'ptr'));
    await writeMessagePointer(join(root, 'ptr'), CWE_PDB.index, 'withdrawn by the build team');
    await writePointer(join(root, 'ptr'), HELLO_PDB.index, '/etc/passwd');
    nginx = await startNginx({ root });
    await writePointer(join(root, 'ptr'), CRASH_PDB.index, `${nginx.url}/store/two/${CRASH_PDB.index}`);
    // both a .pd_ and a file.ptr (to the wrong build): SymSrv's order gives the .pd_
    await writePacked(join(root, 'both'), CRASH_PDB, join(FIX, 'pdb/crash.pdb'));
    await writePointer(join(root, 'both'), CRASH_PDB.index, `${nginx.url}/store/two/${CWE_PDB.index}`);
    faults = await startFaultServer({ root });
  });
  after(async () => {
    await transport.close();
    await faults?.stop();
    await nginx?.stop();
    await rm(tmp, { recursive: true, force: true });
  });

  async function lookup(base: string, key = CRASH_PDB, t = transport) {
    const into = join(await makeTempDir('symsrv-into-', tmp), 'dst');
    const probes: ProbeEvent[] = [];
    const messages: string[] = [];
    const store = new HttpStore(base, t);
    try {
      const result = await store.lookup(key, { into, onProbe: (e) => probes.push(e), onMessage: (m) => messages.push(m) });
      return { result, into, probes, messages, error: undefined };
    } catch (error) {
      return { result: undefined, into, probes, messages, error };
    }
  }

  test('a two-tier store: the file is downloaded whole and checked', async () => {
    const r = await lookup(`${nginx.url}/store/two`);
    assert.equal(r.error, undefined);
    assert.deepEqual(r.result, { status: 'found', path: join(r.into, 'crash.pdb'), downloaded: true });
    assert.deepEqual(await readFile(join(r.into, 'crash.pdb')), await readFile(join(FIX, 'pdb/crash.pdb')));
    assert.deepEqual(await files(r.into), ['crash.pdb']);
  });

  test('a PE image by its timestamp/size key', async () => {
    const r = await lookup(`${nginx.url}/store/two`, CRASH_EXE);
    assert.equal(r.result?.status, 'found');
    assert.deepEqual(await readFile(join(r.into, 'crash.exe')), await readFile(join(FIX, 'pe/crash.exe')));
  });

  test('a three-tier store (index2.txt) is read at na/name/ID/name', async () => {
    const r = await lookup(`${nginx.url}/store/three`);
    assert.equal(r.result?.status, 'found');
    assert.ok(r.probes.some((p) => p.target.endsWith('/three/cr/crash.pdb/3249D99D0C4049318610F4E4FB0B69361/crash.pdb')));
  });

  test('a missing key probes file, .pd_ and file.ptr in that order, then is missing', async () => {
    const r = await lookup(`${nginx.url}/store/two`, MISSING);
    assert.deepEqual(r.result, { status: 'missing' });
    const names = r.probes.map((p) => p.target.split('/').pop());
    assert.deepEqual(names, ['nothere.pdb', 'nothere.pd_', 'file.ptr']);
    assert.ok(r.probes.every((p) => p.result === '404'));
  });

  test('redirects are followed (302, and a 301 to a 302)', async () => {
    for (const prefix of ['redirect', 'redirect2']) {
      const r = await lookup(`${nginx.url}/${prefix}/two`);
      assert.equal(r.result?.status, 'found', `${prefix}: ${String(r.error)}`);
    }
  });

  test('a redirect loop ends with an error and no file', async () => {
    const r = await lookup(`${nginx.url}/redirect-loop/two`);
    assert.ok(isSymsrvError(r.error, 'E_HTTP_STATUS'), String(r.error));
    assert.deepEqual(await files(r.into), []);
  });

  test('a 500 is retried, then reported with the status and URL', async () => {
    const r = await lookup(`${nginx.url}/error500/two`);
    assert.ok(isSymsrvError(r.error, 'E_HTTP_STATUS'), String(r.error));
    assert.match((r.error as Error).message, /500.*\/error500\/two\/crash\.pdb/);
    assert.equal(r.probes.filter((p) => p.result === '500').length, 3, 'one try and two retries');
    assert.deepEqual(await files(r.into), []);
  });

  test('a 200 with an HTML page (captive portal) is refused and never cached', async () => {
    const r = await lookup(`${nginx.url}/portal/two`);
    assert.ok(isSymsrvError(r.error, 'E_INVALID_CONTENT'), String(r.error));
    assert.match((r.error as Error).message, /HTML page/);
    assert.deepEqual(await files(r.into), []);
  });

  test('another build under the key is refused: GUID/age are checked before caching', async () => {
    const r = await lookup(`${nginx.url}/store/two`, CWE_PDB);
    assert.ok(isSymsrvError(r.error, 'E_INVALID_CONTENT'), String(r.error));
    assert.match((r.error as Error).message, /F535C5FB2AE84BB8AA206C30BE566C5A.*99891B3ED7AE4C3BABFF8A2B4A9B0C43/);
    assert.deepEqual(await files(r.into), []);
  });

  test('a compressed-only entry (.pd_) is expanded into the downstream folder under the key\'s name', async () => {
    const r = await lookup(`${nginx.url}/store/packed`, CRASH_PDB);
    assert.equal(r.error, undefined);
    assert.deepEqual(r.result, { status: 'found', path: join(r.into, 'crash.pdb'), downloaded: true });
    assert.deepEqual(await readFile(join(r.into, 'crash.pdb')), await readFile(join(FIX, 'pdb/crash.pdb')));
    assert.deepEqual(await files(r.into), ['crash.pdb']);
    assert.deepEqual(r.probes.map((p) => `${p.target.split('/').pop()} ${p.result}`), ['crash.pdb 404', 'crash.pd_ 200']);
  });

  test('.pd_ and file.ptr are asked for together, and the answer is SymSrv\'s order: the .pd_ wins over a pointer', async () => {
    const mark = (await readFile(nginx.accessLog, 'utf8')).length;
    const r = await lookup(`${nginx.url}/store/both`, CRASH_PDB);
    assert.equal(r.error, undefined);
    assert.deepEqual(await readFile(join(r.into, 'crash.pdb')), await readFile(join(FIX, 'pdb/crash.pdb')));
    assert.deepEqual(r.probes.map((p) => `${p.target.split('/').pop()} ${p.result}`), ['crash.pdb 404', 'crash.pd_ 200']);
    // The pointer was asked for too (at once; nginx logs it when its answer is done), and its target never was.
    const ptrLine = `GET /store/both/${CRASH_PDB.index.replace(/[^/]+$/, 'file.ptr')} `;
    let log = '';
    for (let i = 0; i < 100 && !log.includes(ptrLine); i++) {
      log = (await readFile(nginx.accessLog, 'utf8')).slice(mark);
      if (!log.includes(ptrLine)) await new Promise((done) => setTimeout(done, 20));
    }
    assert.ok(log.includes(ptrLine), 'file.ptr asked for');
    assert.ok(!log.includes(`GET /store/two/${CWE_PDB.index} `), 'the pointer was not followed');
  });

  test('progress counts the .pd_ bytes as they arrive', async () => {
    const into = join(await makeTempDir('symsrv-into-', tmp), 'dst');
    let bytes = 0;
    const r = await new HttpStore(`${nginx.url}/store/packed`, transport).lookup(CRASH_PDB, { into, onBytes: (n) => (bytes += n) });
    assert.equal(r.status, 'found');
    const packed = join(tmp, 'www', 'packed', CRASH_PDB.name, CRASH_PDB.id, 'crash.pd_');
    assert.equal(bytes, (await readFile(packed)).length);
  });

  test('a malformed .pd_ is an E_BAD_CAB and leaves no file', async () => {
    const r = await lookup(`${nginx.url}/store/packed`, HELLO_PDB);
    assert.ok(isSymsrvError(r.error, 'E_BAD_CAB'), String(r.error));
    assert.match((r.error as Error).message, /\/packed\/HelloWorld\.pdb\/.*\/HelloWorld\.pd_: the cabinet ends inside the cabinet header/);
    assert.deepEqual(await files(r.into), []);
  });

  test('a .pd_ whose connection is cut mid-body: E_NETWORK, no partial file', async () => {
    const noRetry = new Transport({ retries: 0 });
    try {
      const r = await lookup(`${faults.url}/truncate/packed`, CRASH_PDB, noRetry);
      assert.ok(isSymsrvError(r.error, 'E_NETWORK'), String(r.error));
      assert.deepEqual(await files(r.into), []);
    } finally {
      await noRetry.close();
    }
  });

  test('file.ptr: PATH:<url> is followed, MSG: is shown, PATH:<local file> is refused', async () => {
    const a = await lookup(`${nginx.url}/store/ptr`, CRASH_PDB);
    assert.equal(a.result?.status, 'found', String(a.error));
    assert.deepEqual(await readFile(join(a.into, 'crash.pdb')), await readFile(join(FIX, 'pdb/crash.pdb')));
    const b = await lookup(`${nginx.url}/store/ptr`, CWE_PDB);
    assert.deepEqual(b.result, { status: 'missing' });
    assert.deepEqual(b.messages, [`${nginx.url}/store/ptr: withdrawn by the build team`]);
    const c = await lookup(`${nginx.url}/store/ptr`, HELLO_PDB);
    assert.ok(isSymsrvError(c.error, 'E_BAD_POINTER'), String(c.error));
    assert.deepEqual(await files(c.into), []);
  });

  test('a connection closed mid-body: no partial file; a retry then gets the whole file', async () => {
    const noRetry = new Transport({ retries: 0 });
    try {
      const r = await lookup(`${faults.url}/truncate/two`, CRASH_PDB, noRetry);
      assert.ok(isSymsrvError(r.error, 'E_NETWORK'), String(r.error));
      assert.deepEqual(await files(r.into), []);
    } finally {
      await noRetry.close();
    }
    const r2 = await lookup(`${faults.url}/truncate-once/two`);
    assert.equal(r2.result?.status, 'found', String(r2.error));
    assert.deepEqual(await readFile(join(r2.into, 'crash.pdb')), await readFile(join(FIX, 'pdb/crash.pdb')));
  });

  test('a 503 once is retried transparently', async () => {
    const r = await lookup(`${faults.url}/flaky/two`);
    assert.equal(r.result?.status, 'found', String(r.error));
  });

  test('a server that stalls mid-body hits the idle timeout: E_TIMEOUT, no partial file', async () => {
    const quick = new Transport({ retries: 0, bodyTimeout: 300 });
    try {
      const r = await lookup(`${faults.url}/stall/two`, CRASH_PDB, quick);
      assert.ok(isSymsrvError(r.error, 'E_TIMEOUT'), String(r.error));
      assert.deepEqual(await files(r.into), []);
    } finally {
      await quick.close();
    }
  });

  test('the User-Agent names symsrv and its version', async () => {
    await lookup(`${nginx.url}/store/two`);
    const log = await readFile(nginx.accessLog, 'utf8');
    assert.match(log, /symsrv\/\d+\.\d+\.\d+/);
  });
});

