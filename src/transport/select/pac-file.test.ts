import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, get, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { CORP_PAC, MSDL, rejectsWith } from '../../../test/helpers/pac.js';
import { isSymsrvError } from '../../errors.js';
import { loadPacScript, parsePacResult, readPacText, type PacEntry } from './pac-file.js';

describe('parsePacResult (MDN PAC return value format)', () => {
  const cases: [answer: string, entries: PacEntry[]][] = [
    [
      'PROXY a:1; PROXY b:2; DIRECT',
      [
        { kind: 'proxy', scheme: 'http', server: 'a:1', text: 'PROXY a:1' },
        { kind: 'proxy', scheme: 'http', server: 'b:2', text: 'PROXY b:2' },
        { kind: 'direct' },
      ],
    ],
    ['DIRECT', [{ kind: 'direct' }]],
    ['', [{ kind: 'direct' }]],
    ['  ;  ', [{ kind: 'direct' }]],
    [' proxy  a:1 ;; direct ', [{ kind: 'proxy', scheme: 'http', server: 'a:1', text: 'proxy  a:1' }, { kind: 'direct' }]],
    ['HTTP web:3128', [{ kind: 'proxy', scheme: 'http', server: 'web:3128', text: 'HTTP web:3128' }]],
    ['PROXY web', [{ kind: 'proxy', scheme: 'http', server: 'web', text: 'PROXY web' }]],
    ['PROXY [::1]:3128', [{ kind: 'proxy', scheme: 'http', server: '[::1]:3128', text: 'PROXY [::1]:3128' }]],
    ['HTTPS tls:443', [{ kind: 'skipped', text: 'HTTPS tls:443', reason: 'HTTPS proxies (TLS to the proxy) are not supported yet' }]],
    [
      'SOCKS s:1080; SOCKS5 s:1081; SOCKS4 s:1082',
      [
        // SOCKS is SOCKS5 (as Firefox reads it), both with DNS at the proxy; SOCKS4 cannot authenticate.
        { kind: 'proxy', scheme: 'socks5h', server: 's:1080', text: 'SOCKS s:1080' },
        { kind: 'proxy', scheme: 'socks5h', server: 's:1081', text: 'SOCKS5 s:1081' },
        { kind: 'skipped', text: 'SOCKS4 s:1082', reason: 'SOCKS4 proxies are not supported (no password authentication); SOCKS5 is' },
      ],
    ],
    ['PROXY', [{ kind: 'skipped', text: 'PROXY', reason: 'not a PAC proxy entry' }]],
    ['PROXY a:1 b:2', [{ kind: 'skipped', text: 'PROXY a:1 b:2', reason: 'not a PAC proxy entry' }]],
    ['QUIC q:443', [{ kind: 'skipped', text: 'QUIC q:443', reason: 'not a PAC proxy entry' }]],
    ['DIRECT now', [{ kind: 'skipped', text: 'DIRECT now', reason: 'not a PAC proxy entry' }]],
    ['PROXY user:pw@a:1', [{ kind: 'skipped', text: 'PROXY user:pw@a:1', reason: 'not a host:port' }]],
  ];
  for (const [answer, entries] of cases) {
    test(JSON.stringify(answer), () => assert.deepEqual(parsePacResult(answer), entries));
  }
});

describe('loading PAC files', () => {
  let dir: string;
  let server: Server;
  let base: string;
  let served = 0;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'symsrv-pac-'));
    server = createServer((req, res) => {
      if (req.url === '/proxy.pac') {
        served++;
        res.writeHead(200, { 'content-type': 'application/x-ns-proxy-autoconfig' });
        res.end(CORP_PAC);
      } else {
        res.writeHead(404).end('not here');
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    await new Promise((resolve) => server.close(resolve));
    await rm(dir, { recursive: true, force: true });
  });

  test('a file on disk, by path and by file: URL, with a BOM', async () => {
    const path = join(dir, 'corp.pac');
    await writeFile(path, `\uFEFF${CORP_PAC}`);
    for (const pac of [path, pathToFileURL(path).href]) {
      const script = await loadPacScript(pac);
      try {
        assert.equal(script.name, pac);
        assert.equal(await script.findProxy(MSDL), 'PROXY a.corp.example:1; PROXY b.corp.example:2; DIRECT');
      } finally {
        script.dispose();
      }
    }
  });

  test('a file that is not there: E_IO naming it', async () => {
    const path = join(dir, 'missing.pac');
    await rejectsWith(loadPacScript(path), 'E_IO', new RegExp(`cannot read the PAC file .*missing\\.pac: ENOENT`));
  });

  test('a URL served on 127.0.0.1, through the caller-provided fetchText', async () => {
    const script = await loadPacScript(`${base}/proxy.pac`, { fetchText });
    try {
      assert.equal(await script.findProxy(new URL('https://symbols.corp.example/')), 'DIRECT');
      assert.equal(await script.findProxy(MSDL), 'PROXY a.corp.example:1; PROXY b.corp.example:2; DIRECT');
      assert.ok(served >= 1);
    } finally {
      script.dispose();
    }
  });

  test('a download that fails: E_PROXY naming the URL', async () => {
    await rejectsWith(loadPacScript(`${base}/nothing.pac`, { fetchText }), 'E_PROXY', /cannot download the PAC file http:\/\/127\.0\.0\.1:\d+\/nothing\.pac: HTTP 404/);
  });

  test('a URL without fetchText: E_USAGE', async () => {
    await rejectsWith(readPacText('http://wpad.corp.example/wpad.dat'), 'E_USAGE', /no fetchText function was given/);
  });

  test('another scheme: E_USAGE', async () => {
    await rejectsWith(readPacText('ftp://wpad.corp.example/wpad.dat'), 'E_USAGE', /must be an http:\/\/, https:\/\/ or file: URL, or a path/);
  });

  test('credentials in a PAC URL never reach a message', async () => {
    await assert.rejects(loadPacScript(`http://alice:hunter2@127.0.0.1:${new URL(base).port}/nothing.pac`, { fetchText }), (err: unknown) => {
      assert.ok(isSymsrvError(err, 'E_PROXY'));
      assert.ok(!err.message.includes('hunter2') && !err.message.includes('alice'), err.message);
      assert.match(err.message, /http:\/\/\*\*\*@127\.0\.0\.1/);
      return true;
    });
  });
});



/** The caller's downloader in these tests: plain node:http, userinfo dropped, 200 only. */
function fetchText(url: string): Promise<string> {
  const u = new URL(url);
  u.username = '';
  u.password = '';
  return new Promise((resolve, reject) => {
    get(u, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        if (res.statusCode === 200) resolve(Buffer.concat(chunks).toString('utf8'));
        else reject(new Error(`HTTP ${res.statusCode ?? '?'}`));
      });
      res.on('error', reject);
    }).on('error', reject);
  });
}
