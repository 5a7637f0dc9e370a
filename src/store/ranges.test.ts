import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startNginx, type NginxServer } from '../../test/helpers/nginx.js';
import { listFiles as files, makeTempDir } from '../../test/helpers/tempdir.js';
import { parseKey } from '../keys/key.js';
import { Transport } from '../transport/transport.js';
import { HttpStore } from './http.js';
import type { ProbeEvent } from './types.js';

// A key whose form names no identity (any bytes are its content): random data, large enough to split.
const BIG = parseKey('big.bin/B16/big.bin');
const bytes = randomBytes(6 * 1024 * 1024 + 12345);
const THRESHOLD = 1024 * 1024;
// An ELF debug file's key over the same random bytes: its first bytes are not \x7fELF.
const ELF = parseKey('_.debug/elf-buildid-sym-126ba1461caf6644cfdd124bfcceeffa81b18897/_.debug'); // lowered for the test: files of a few MiB

type Mode = 'ignore' | 'wrong-range' | 'cut-parts';

/**
 * What nginx will not do: a server that announces `Accept-Ranges: bytes` and then ignores Range
 * (answers 200 and the whole file), one that answers a range with another range's Content-Range,
 * one that cuts every range part short. Each request is recorded (its Range header).
 */
async function startOdd(mode: Mode): Promise<{ url: string; ranges: string[]; server: Server }> {
  const ranges: string[] = [];
  const server = createServer((req, res) => {
    const range = req.headers.range;
    ranges.push(range ?? '');
    const m = range ? /^bytes=(\d+)-(\d+)$/.exec(range) : null;
    if (!m || mode === 'ignore') {
      res.writeHead(200, { 'content-length': bytes.length, 'accept-ranges': 'bytes' });
      res.end(bytes);
      return;
    }
    const start = Number(m[1]);
    const end = Number(m[2]);
    if (mode === 'wrong-range') {
      // off by one: the bytes of the next offset
      res.writeHead(206, { 'content-length': end - start + 1, 'content-range': `bytes ${start + 1}-${end + 1}/${bytes.length}` });
      res.end(bytes.subarray(start + 1, end + 2));
      return;
    }
    res.writeHead(206, { 'content-length': end - start + 1, 'content-range': `bytes ${start}-${end}/${bytes.length}` });
    res.write(bytes.subarray(start, start + 1000));
    res.destroy(); // cut
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/store`, ranges, server };
}

describe('large files in parallel ranges', () => {
  let tmp: string;
  let nginx: NginxServer;
  const transport = new Transport({ retries: 1, backoff: 10, maxBackoff: 20, bodyTimeout: 5000, headersTimeout: 5000 });

  before(async () => {
    tmp = await makeTempDir('symsrv-ranges-');
    await mkdir(join(tmp, 'www', 'big.bin', 'B16'), { recursive: true });
    await writeFile(join(tmp, 'www', 'big.bin', 'B16', 'big.bin'), bytes);
    await mkdir(join(tmp, 'www', ELF.name, ELF.id), { recursive: true });
    await writeFile(join(tmp, 'www', ELF.name, ELF.id, ELF.name), bytes);
    nginx = await startNginx({ root: join(tmp, 'www') });
  });
  after(async () => {
    await transport.close();
    await nginx?.stop();
    await rm(tmp, { recursive: true, force: true });
  });

  async function fetchBig(base: string, threshold = THRESHOLD, key = BIG) {
    const into = join(await makeTempDir('into-', tmp), 'dst');
    const probes: ProbeEvent[] = [];
    const store = new HttpStore(base, transport, { rangeThreshold: threshold });
    try {
      const result = await store.lookup(key, { into, onProbe: (e) => probes.push(e) });
      return { result, into, probes, error: undefined };
    } catch (error) {
      return { result: undefined, into, probes, error };
    }
  }

  const rangeLines = async (): Promise<string[]> =>
    (await readFile(nginx.accessLog, 'utf8')).split('\n').filter((l) => l.includes('big.bin') && l.startsWith('206 '));

  test('nginx: the file comes in several 206 ranges, byte-identical', async () => {
    const before = (await rangeLines()).length;
    const r = await fetchBig(`${nginx.url}/store`);
    assert.equal(r.error, undefined);
    assert.equal(r.result?.status, 'found');
    assert.ok((await readFile(join(r.into, BIG.name))).equals(bytes));
    const lines = (await rangeLines()).slice(before);
    assert.equal(lines.length, 3, lines.join('\n')); // 4 parts: the first from the first GET's body
    const size = Math.ceil(bytes.length / 4);
    const asked = lines.map((l) => /range="([^"]*)"/.exec(l)![1]).sort();
    assert.deepEqual(asked, [1, 2, 3].map((i) => `bytes=${i * size}-${Math.min((i + 1) * size, bytes.length) - 1}`).sort());
    assert.deepEqual(await files(r.into), [BIG.name]);
  });

  test('below the threshold: one stream, no range request', async () => {
    const before = (await rangeLines()).length;
    const r = await fetchBig(`${nginx.url}/store`, bytes.length + 1);
    assert.equal(r.error, undefined);
    assert.ok((await readFile(join(r.into, BIG.name))).equals(bytes));
    assert.equal((await rangeLines()).length, before);
  });

  test('the magic check still holds on a split download: not an ELF file, stopped, nothing cached', async () => {
    const r = await fetchBig(`${nginx.url}/store`, THRESHOLD, ELF);
    assert.equal((r.error as { code?: string } | undefined)?.code, 'E_INVALID_CONTENT', String(r.error));
    assert.match(String((r.error as Error).message), /first bytes/);
    assert.deepEqual(await files(r.into).catch(() => []), []);
  });

  for (const mode of ['ignore', 'wrong-range'] as const) {
    test(`a server that answers Range with ${mode === 'ignore' ? 'the whole file (200)' : 'another range'}: one stream, byte-identical`, async () => {
      const odd = await startOdd(mode);
      try {
        const r = await fetchBig(odd.url);
        assert.equal(r.error, undefined);
        assert.ok((await readFile(join(r.into, BIG.name))).equals(bytes));
        assert.deepEqual(await files(r.into), [BIG.name]);
        assert.ok(r.probes.some((p) => p.result.startsWith('ranges refused')), JSON.stringify(r.probes));
        assert.ok(odd.ranges.some((x) => x !== ''), 'ranges were asked');
        assert.equal(odd.ranges.at(-1), '', 'the last request is the whole file');
      } finally {
        odd.server.closeAllConnections();
        odd.server.close();
      }
    });
  }

  test('parts that keep breaking: a clean error, no partial file', async () => {
    const odd = await startOdd('cut-parts');
    try {
      const r = await fetchBig(odd.url);
      assert.equal((r.error as { code?: string } | undefined)?.code, 'E_NETWORK', String(r.error));
      assert.deepEqual(await files(r.into).catch(() => []), []);
      assert.ok(odd.ranges.filter((x) => x !== '').length > 3, 'parts were retried');
    } finally {
      odd.server.closeAllConnections();
      odd.server.close();
    }
  });
});
