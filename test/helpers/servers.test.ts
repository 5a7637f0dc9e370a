import assert from 'node:assert/strict';
import { existsSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { Agent, request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startFaultServer, type FaultServer } from './faults.js';
import { startNginx, type NginxServer } from './nginx.js';
import { isListening } from './ports.js';
import { pdbutilSummary, readelfBuildId, readobjPe } from './readers.js';
import { buildStore, writeMessagePointer, writePointer } from './store.js';
import { listFiles, makeTempDir, removeDir } from './tempdir.js';
import { buildTestbins, type Testbins } from './testbins.js';
import { makeTestCertificates } from './tls.js';

/** The helpers that start real servers and build real binaries, checked on their own. */

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  /** Whether the whole body arrived (false when the connection was cut mid-body). */
  complete: boolean;
}

/** A GET with node:http that never follows redirects and reports a cut body instead of throwing. */
function get(url: string, opts: { headers?: Record<string, string>; agent?: Agent; ca?: Buffer } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const send = url.startsWith('https:') ? httpsRequest : httpRequest;
    const req = send(url, { headers: opts.headers, agent: opts.agent, ...(opts.ca ? { ca: opts.ca } : {}) }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', () => {}); // "aborted": seen as complete === false below
      res.on('close', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), complete: res.complete }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** The text form of a PDB's key, from llvm-pdbutil (not from our parser). */
function pdbKey(name: string, pdb: string): string {
  const s = pdbutilSummary(pdb);
  return `${name}/${s.guid}${s.age.toString(16).toUpperCase()}/${name}`;
}

/** The text form of an image's key (TimeDateStamp, SizeOfImage), from llvm-readobj. */
function peKey(name: string, image: string): string {
  const h = readobjPe(image);
  return `${name}/${h.timestamp.toString(16).toUpperCase().padStart(8, '0')}${h.sizeOfImage.toString(16).toUpperCase()}/${name}`;
}

describe('test binaries (scripts/build-testbins.sh)', () => {
  let bins: Testbins;
  before(async () => {
    bins = await buildTestbins();
  });

  test('every PE image refers to its own PDB, and the PDB says the same GUID and age', () => {
    for (const b of [bins.hello64, bins.hello32, bins.lib64, bins.lib32, bins.alt64, bins.big8k]) {
      const pe = readobjPe(b.image);
      const ref = pe.debug.find((d) => d.pdb)?.pdb;
      assert.ok(ref, `${b.image} has a CodeView entry`);
      const pdb = pdbutilSummary(b.pdb);
      assert.equal(ref.age, pdb.age);
      assert.equal(ref.guid.length, 16);
      // Data1, Data2, Data3 are little-endian in the file, the rest as they are.
      const g = ref.guid;
      const text = [g.subarray(0, 4).reverse(), g.subarray(4, 6).reverse(), g.subarray(6, 8).reverse(), g.subarray(8)]
        .map((p) => Buffer.from(p).toString('hex'))
        .join('')
        .toUpperCase();
      assert.equal(text, pdb.guid, b.image);
    }
  });

  test('machines, the /pdbaltpath name and the 8 KiB pages are what was asked for', () => {
    assert.equal(readobjPe(bins.hello64.image).machine, 0x8664);
    assert.equal(readobjPe(bins.hello32.image).machine, 0x14c);
    assert.equal(readobjPe(bins.lib32.image).magic, 0x10b);
    assert.equal(readobjPe(bins.lib64.image).magic, 0x20b);
    assert.equal(readobjPe(bins.alt64.image).debug.find((d) => d.pdb)?.pdb?.fileName, 'alt64.pdb');
    assert.equal(readobjPe(bins.hello64.image).debug.find((d) => d.pdb)?.pdb?.fileName, bins.hello64.pdb);
    assert.equal(pdbutilSummary(bins.big8k.pdb).blockSize, 8192);
    assert.equal(pdbutilSummary(bins.hello64.pdb).blockSize, 4096);
  });

  test('the ELF program and its debug file share a 40-digit build-id', () => {
    const id = readelfBuildId(bins.elf.stripped);
    assert.match(id ?? '', /^[0-9a-f]{40}$/);
    assert.equal(readelfBuildId(bins.elf.debug), id);
  });

  test('a second run builds nothing', async () => {
    const before = statSync(bins.hello64.pdb).mtimeMs;
    await buildTestbins();
    assert.equal(statSync(bins.hello64.pdb).mtimeMs, before);
  });
});

describe('nginx and the store helpers', () => {
  let tmp: string;
  let root: string;
  let nginx: NginxServer;
  let bins: Testbins;
  let pdbBytes: Buffer;
  let PDB: string;
  let EXE: string;
  let ELF: string;

  before(async () => {
    bins = await buildTestbins();
    tmp = await makeTempDir('symsrv-servers-');
    root = join(tmp, 'www');
    PDB = pdbKey('hello64.pdb', bins.hello64.pdb);
    EXE = peKey('hello64.exe', bins.hello64.image);
    ELF = `_.debug/elf-buildid-sym-${readelfBuildId(bins.elf.debug)}/_.debug`;
    await buildStore(join(root, 'two'), [
      { path: bins.hello64.pdb, key: PDB },
      { path: bins.hello64.image, key: EXE },
      { path: bins.elf.debug, key: ELF },
    ]);
    await buildStore(join(root, 'three'), [{ path: bins.hello64.pdb, key: PDB }], { threeTier: true });
    await writePointer(join(root, 'two'), pdbKey('hello32.pdb', bins.hello32.pdb), '\\\\server\\share\\hello32.pdb');
    await writeMessagePointer(join(root, 'two'), pdbKey('lib32.pdb', bins.lib32.pdb), 'withheld by policy');
    pdbBytes = await readFile(bins.hello64.pdb);
    nginx = await startNginx({ root });
  });
  after(async () => {
    await nginx?.stop();
    await removeDir(tmp);
  });

  test('buildStore lays out two-tier and three-tier stores as SymStore does', async () => {
    const hello32 = pdbKey('hello32.pdb', bins.hello32.pdb).split('/').slice(0, 2).join('/');
    const lib32 = pdbKey('lib32.pdb', bins.lib32.pdb).split('/').slice(0, 2).join('/');
    assert.deepEqual(await listFiles(join(root, 'two')), [ELF, EXE, PDB, `${hello32}/file.ptr`, `${lib32}/file.ptr`, 'pingme.txt'].sort());
    assert.deepEqual(await listFiles(join(root, 'three')), [`he/${PDB}`, 'index2.txt', 'pingme.txt']);
    assert.equal(await readFile(join(root, 'two', hello32, 'file.ptr'), 'utf8'), 'PATH:\\\\server\\share\\hello32.pdb');
    assert.equal(await readFile(join(root, 'two', lib32, 'file.ptr'), 'utf8'), 'MSG:withheld by policy');
  });

  test('/store/ serves the files, byte for byte, as application/octet-stream', async () => {
    for (const url of [`${nginx.url}/store/two/${PDB}`, `${nginx.url}/store/three/he/${PDB}`]) {
      const r = await get(url);
      assert.equal(r.status, 200, url);
      assert.equal(r.headers['content-type'], 'application/octet-stream');
      assert.equal(Number(r.headers['content-length']), pdbBytes.length);
      assert.ok(r.body.equals(pdbBytes), url);
    }
    const elf = await get(`${nginx.url}/store/two/${ELF}`);
    assert.ok(elf.body.equals(await readFile(bins.elf.debug)));
  });

  test('a missing file, /gone/ and anything outside the routes are 404', async () => {
    assert.equal((await get(`${nginx.url}/store/two/nothere.pdb/0000/nothere.pdb`)).status, 404);
    assert.equal((await get(`${nginx.url}/gone/two/${PDB}`)).status, 404);
    assert.equal((await get(`${nginx.url}/elsewhere/${PDB}`)).status, 404);
  });

  test('the store is not listed (autoindex off)', async () => {
    assert.equal((await get(`${nginx.url}/store/two/`)).status, 403);
  });

  test('/redirect/ is a 302 to /store/, /redirect2/ a 301 to /redirect/, /redirect-loop/ points at itself', async () => {
    const one = await get(`${nginx.url}/redirect/two/${PDB}`);
    assert.equal(one.status, 302);
    assert.equal(one.headers.location, `${nginx.url}/store/two/${PDB}`);
    const two = await get(`${nginx.url}/redirect2/two/${PDB}`);
    assert.equal(two.status, 301);
    assert.equal(two.headers.location, `${nginx.url}/redirect/two/${PDB}`);
    const loop = await get(`${nginx.url}/redirect-loop/two/${PDB}`);
    assert.equal(loop.status, 302);
    assert.equal(loop.headers.location, `${nginx.url}/redirect-loop/two/${PDB}`);
    // Followed by a real client, the chain ends at the file.
    const followed = await fetch(`${nginx.url}/redirect2/two/${PDB}`);
    assert.equal(followed.status, 200);
    assert.equal(followed.url, `${nginx.url}/store/two/${PDB}`);
    assert.ok(Buffer.from(await followed.arrayBuffer()).equals(pdbBytes));
  });

  test('/error500/ and /error503/ always fail', async () => {
    for (let i = 0; i < 2; i++) {
      assert.equal((await get(`${nginx.url}/error500/two/${PDB}`)).status, 500);
      assert.equal((await get(`${nginx.url}/error503/two/${PDB}`)).status, 503);
    }
  });

  test('/portal/ answers every path with 200 and an HTML login page, like a captive portal', async () => {
    for (const path of [`/portal/two/${PDB}`, '/portal/x']) {
      const r = await get(nginx.url + path);
      assert.equal(r.status, 200);
      assert.equal(r.headers['content-type'], 'text/html');
      assert.equal(r.body.toString(), '<!DOCTYPE html><html><body>Please log in to the network</body></html>');
    }
  });

  test('the access log shows status, request, User-Agent, both credential headers and connection reuse', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const headers = { 'user-agent': 'servers-test/1.0', authorization: 'Basic YWxpY2U6cHc=', 'proxy-authorization': 'Basic Ym9iOnB3' };
      await get(`${nginx.url}/store/two/${PDB}?first`, { headers, agent });
      await get(`${nginx.url}/store/two/${PDB}?second`, { headers, agent });
    } finally {
      agent.destroy();
    }
    const lines = (await readFile(nginx.accessLog, 'utf8')).split('\n');
    const first = lines.find((l) => l.includes('?first'));
    const second = lines.find((l) => l.includes('?second'));
    assert.match(first ?? '', /^200 "GET \/store\/two\/\S+\?first HTTP\/1\.1" ua="servers-test\/1\.0" auth="Basic YWxpY2U6cHc=" pauth="Basic Ym9iOnB3" conn=\d+ reqs=1 /);
    assert.equal(/conn=(\d+)/.exec(second ?? '')?.[1], /conn=(\d+)/.exec(first ?? '')?.[1], 'one keep-alive connection');
    assert.match(second ?? '', / reqs=2 /);
  });

  test('TLS: https with a certificate from a test CA', async () => {
    const certs = await makeTestCertificates(tmp);
    const tls = await startNginx({ root, tls: { cert: certs.cert, key: certs.key } });
    try {
      assert.match(tls.url, /^https:\/\/127\.0\.0\.1:\d+$/);
      const r = await get(`${tls.url}/store/two/${PDB}`, { ca: await readFile(certs.ca) });
      assert.equal(r.status, 200);
      assert.ok(r.body.equals(pdbBytes));
      await assert.rejects(get(`${tls.url}/store/two/${PDB}`), /certificate/i);
    } finally {
      await tls.stop();
    }
  });

  test('stop() ends nginx: the port is closed and its folder removed', async () => {
    const other = await startNginx({ root });
    assert.ok(await isListening(other.port));
    assert.ok(existsSync(other.dir));
    await other.stop();
    assert.equal(await isListening(other.port), false);
    assert.equal(existsSync(other.dir), false);
    await other.stop(); // twice is harmless
  });
});

describe('fault server', () => {
  let tmp: string;
  let faults: FaultServer;
  let bytes: Buffer;
  const FILE = 'a.pdb/0123/a.pdb';

  before(async () => {
    const bins = await buildTestbins();
    tmp = await makeTempDir('symsrv-faults-');
    await buildStore(tmp, [{ path: bins.hello64.pdb, key: FILE }]);
    bytes = await readFile(bins.hello64.pdb);
    faults = await startFaultServer({ root: tmp, slow: { chunkBytes: 16384, delayMs: 10 } });
  });
  after(async () => {
    await faults?.stop();
    await removeDir(tmp);
  });

  test('/truncate/ promises the whole length, sends half, then cuts the connection', async () => {
    for (let i = 0; i < 2; i++) {
      const r = await get(`${faults.url}/truncate/${FILE}`);
      assert.equal(r.status, 200);
      assert.equal(Number(r.headers['content-length']), bytes.length);
      assert.equal(r.complete, false);
      assert.equal(r.body.length, Math.floor(bytes.length / 2));
      assert.ok(r.body.equals(bytes.subarray(0, r.body.length)));
    }
  });

  test('/truncate-once/ cuts the first answer per path only', async () => {
    const first = await get(`${faults.url}/truncate-once/${FILE}`);
    assert.equal(first.complete, false);
    const second = await get(`${faults.url}/truncate-once/${FILE}`);
    assert.equal(second.complete, true);
    assert.ok(second.body.equals(bytes));
  });

  test('/flaky/ is a 503 the first time per path, then the file', async () => {
    assert.equal((await get(`${faults.url}/flaky/${FILE}`)).status, 503);
    const r = await get(`${faults.url}/flaky/${FILE}`);
    assert.equal(r.status, 200);
    assert.ok(r.body.equals(bytes));
  });

  test('/slow/ sends the whole file, in pieces, with pauses', async () => {
    const t0 = Date.now();
    const r = await get(`${faults.url}/slow/${FILE}`);
    assert.ok(r.body.equals(bytes));
    const pauses = Math.ceil(bytes.length / 16384) - 1;
    assert.ok(Date.now() - t0 >= pauses * 10 * 0.8, `took ${Date.now() - t0} ms for ${pauses} pauses`);
  });

  test('/stall/ sends headers and 16 bytes, then nothing until stop(); stop() cuts it at once', async () => {
    const got: Buffer[] = [];
    const answer = new Promise<{ complete: boolean }>((resolve, reject) => {
      const req = httpRequest(`${faults.url}/stall/${FILE}`, (res) => {
        res.on('data', (c: Buffer) => got.push(c));
        res.on('error', () => {});
        res.on('close', () => resolve({ complete: res.complete }));
      });
      req.on('error', reject);
      req.end();
    });
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(Buffer.concat(got).length, 16);
    assert.ok(Buffer.concat(got).equals(bytes.subarray(0, 16)));
    const t0 = Date.now();
    await faults.stop();
    assert.equal((await answer).complete, false);
    assert.ok(Date.now() - t0 < 1000);
    // Started again for the next tests (stop() is for good).
    faults = await startFaultServer({ root: tmp });
  });

  test('unknown routes and missing files are 404; every request is counted and logged', async () => {
    const before = faults.requests;
    assert.equal((await get(`${faults.url}/nope/${FILE}`)).status, 404);
    assert.equal((await get(`${faults.url}/flaky/missing/x/missing`)).status, 404);
    assert.equal((await get(`${faults.url}/flaky/../../etc/passwd`)).status, 404);
    await get(`${faults.url}/flaky/${FILE}`, { headers: { authorization: 'Basic eA==' } });
    assert.equal(faults.requests, before + 4);
    assert.equal(faults.log.at(-1)?.headers.authorization, 'Basic eA==');
  });
});
