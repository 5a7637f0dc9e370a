import assert from 'node:assert/strict';
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { getEventListeners } from 'node:events';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { startNginx, type NginxServer } from '../../test/helpers/nginx.js';
import { freePort, isListening } from '../../test/helpers/ports.js';
import { makeTempDir, removeDir } from '../../test/helpers/tempdir.js';
import { isSymsrvError } from '../errors.js';
import { Transport } from './transport.js';

async function readAll(body: NodeJS.ReadableStream, slow = false): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of body) {
    chunks.push(c as Buffer);
    if (slow) await sleep(1); // a slow disk: backpressure on the socket
  }
  return Buffer.concat(chunks);
}

describe('Transport', () => {
  let tmp: string;
  let nginx: NginxServer;
  let tlsNginx: NginxServer;
  let python: ChildProcess;
  let pythonUrl: string;
  let silent: Server;
  const silentSockets = new Set<Socket>();
  let big: Buffer;

  before(async () => {
    tmp = await makeTempDir('symsrv-transport-');
    await mkdir(join(tmp, 'www'));
    big = randomBytes(3 * 1024 * 1024);
    for (let i = 0; i < 6; i++) await writeFile(join(tmp, 'www', `f${i}.bin`), big);
    // A test CA and a server certificate for 127.0.0.1, made by openssl.
    const ssl = (args: string[]): void => {
      execFileSync('openssl', args, { cwd: tmp, stdio: 'ignore' });
    };
    ssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=symsrv test CA', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
    ssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1']);
    await writeFile(join(tmp, 'ext.cnf'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
    ssl(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.crt', '-days', '2', '-extfile', 'ext.cnf']);
    nginx = await startNginx({ root: join(tmp, 'www') });
    tlsNginx = await startNginx({ root: join(tmp, 'www'), tls: { cert: join(tmp, 'server.crt'), key: join(tmp, 'server.key') } });
    // Python's http.server speaks HTTP/1.0 and closes the connection after each answer.
    const port = await freePort();
    python = spawn('python3', ['-m', 'http.server', String(port), '--bind', '127.0.0.1', '--directory', join(tmp, 'www')], { stdio: 'ignore' });
    for (let i = 0; i < 300 && !(await isListening(port)); i++) await sleep(10);
    pythonUrl = `http://127.0.0.1:${port}`;
    // A server that accepts connections and never answers.
    silent = createServer((s) => {
      silentSockets.add(s);
      s.on('close', () => silentSockets.delete(s));
    });
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  });
  after(async () => {
    python?.kill();
    for (const s of silentSockets) s.destroy();
    await new Promise((r) => silent?.close(r));
    await nginx?.stop();
    await tlsNginx?.stop();
    await removeDir(tmp);
  });

  test('keep-alive: sequential GETs to one origin share one connection', async () => {
    const t = new Transport();
    try {
      for (let i = 0; i < 5; i++) {
        const res = await t.get(`${nginx.url}/store/f${i}.bin`);
        assert.equal(res.status, 200);
        assert.equal((await readAll(res.body)).length, big.length);
      }
    } finally {
      await t.close();
    }
    const conns = (await readFile(nginx.accessLog, 'utf8'))
      .split('\n')
      .filter((l) => l.includes('/store/f'))
      .map((l) => /conn=(\d+)/.exec(l)![1]);
    assert.equal(conns.length, 5);
    assert.equal(new Set(conns).size, 1, `connections: ${conns}`);
  });

  test('regression (undici#5360): a server that closes after each answer, read slowly, does not crash the process', async () => {
    const t = new Transport({ connectionsPerOrigin: 6 });
    try {
      const bodies = await Promise.all(
        [0, 1, 2, 3, 4, 5].map(async (i) => {
          const res = await t.get(`${pythonUrl}/f${i}.bin`);
          assert.equal(res.status, 200);
          await sleep(50); // the body waits: the parser is held back while the server closes
          return readAll(res.body, true);
        }),
      );
      for (const b of bodies) assert.ok(b.equals(big));
    } finally {
      await t.close();
    }
  });

  test('HTTPS: the test CA via `ca` is trusted; without it the error says how to fix it', async () => {
    const ca = await readFile(join(tmp, 'ca.crt'), 'utf8');
    const trusting = new Transport({ ca: [ca] });
    try {
      const res = await trusting.get(`${tlsNginx.url}/store/f0.bin`);
      assert.equal(res.status, 200);
      assert.ok((await readAll(res.body)).equals(big));
    } finally {
      await trusting.close();
    }
    const plain = new Transport({ retries: 0 });
    try {
      await assert.rejects(plain.get(`${tlsNginx.url}/store/f0.bin`), (e) => {
        assert.ok(isSymsrvError(e, 'E_NETWORK'), String(e));
        assert.match(e.message, /TLS certificate.*the ca option/);
        assert.doesNotMatch(e.message, /--/); // CLI flag names are the CLI's (src/cli/output.ts)
        return true;
      });
    } finally {
      await plain.close();
    }
  });

  test('a server that never answers hits the headers timeout (E_TIMEOUT naming the URL)', async () => {
    const { port } = silent.address() as { port: number };
    const t = new Transport({ headersTimeout: 200 });
    try {
      await assert.rejects(t.get(`http://127.0.0.1:${port}/x.pdb`), (e) => {
        assert.ok(isSymsrvError(e, 'E_TIMEOUT'), String(e));
        assert.match(e.message, /x\.pdb.*response headers/);
        return true;
      });
    } finally {
      await t.close();
    }
  });

  test('a refused connection is E_NETWORK; userinfo never appears in messages', async () => {
    const port = await freePort();
    const t = new Transport();
    try {
      await assert.rejects(t.get(`http://user:s3cret@127.0.0.1:${port}/x.pdb`), (e) => {
        assert.ok(isSymsrvError(e, 'E_NETWORK'), String(e));
        assert.match(e.message, /ECONNREFUSED/);
        assert.doesNotMatch(e.message, /s3cret|user:/);
        return true;
      });
    } finally {
      await t.close();
    }
  });

  test('the total timeout bounds a whole request; a caller abort is E_ABORTED', async () => {
    const { port } = silent.address() as { port: number };
    const t = new Transport({ totalTimeout: 150 });
    try {
      await assert.rejects(t.get(`http://127.0.0.1:${port}/y.pdb`), (e) => isSymsrvError(e, 'E_TIMEOUT'));
    } finally {
      await t.close();
    }
    const t2 = new Transport();
    try {
      const ac = new AbortController();
      setTimeout(() => ac.abort(), 50);
      await assert.rejects(t2.get(`http://127.0.0.1:${port}/z.pdb`, { signal: ac.signal }), (e) => isSymsrvError(e, 'E_ABORTED'));
    } finally {
      await t2.close();
    }
  });

  test('the caller\'s signal and the total timeout also end a body in flight; a finished request lets go of the signal', async () => {
    // Headers, 10 of 1000 body bytes, then silence.
    const stalling = createServer((s) => {
      s.once('data', () => s.write('HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n0123456789'));
      s.on('error', () => {});
    });
    await new Promise<void>((r) => stalling.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(stalling.address() as { port: number }).port}/s.pdb`;
    const t = new Transport({ totalTimeout: 300 });
    try {
      const res = await t.get(url);
      await assert.rejects(readAll(res.body), (e) => isSymsrvError(e, 'E_TIMEOUT') && /total timeout/.test((e as Error).message));
      const ac = new AbortController();
      const res2 = await t.get(url, { signal: ac.signal });
      setTimeout(() => ac.abort(), 30);
      await assert.rejects(readAll(res2.body), (e) => isSymsrvError(e, 'E_ABORTED'));
      // One signal for a whole session (the CLI's Ctrl-C): each request removes its listener when done.
      const session = new AbortController();
      for (let i = 0; i < 3; i++) {
        const r = await t.get(`${nginx.url}/f${i}.bin`, { signal: session.signal });
        await readAll(r.body);
        await new Promise((resolve) => setImmediate(resolve)); // 'close' follows 'end'
      }
      assert.equal(getEventListeners(session.signal, 'abort').length, 0);
    } finally {
      await t.close();
      await new Promise((r) => stalling.close(r));
    }
  });

  test('a PAC answer "PROXY dead; DIRECT" falls through to the next candidate in order', async () => {
    const dead = await freePort();
    const pac = join(tmp, 'fallback.pac');
    await writeFile(pac, `function FindProxyForURL(url, host) { return "PROXY 127.0.0.1:${dead}; DIRECT"; }`);
    const t = new Transport({ proxies: { pac } });
    const seen: string[] = [];
    try {
      const res = await t.get(`${nginx.url}/store/f0.bin`, { onProxy: (c) => seen.push(c.url ? c.url.host : 'DIRECT') });
      assert.equal(res.status, 200);
      assert.ok((await readAll(res.body)).equals(big));
    } finally {
      await t.close();
    }
    assert.deepEqual(seen, [`127.0.0.1:${dead}`, 'DIRECT']);
  });
  test('an injected selectProxy decides first: its proxy is used, undefined leaves the choice to symsrv, a throw is E_PROXY', async () => {
    // nginx serves an absolute-form request (`GET http://symbols.invalid/...`) from its root, so a
    // file from a host that does not exist proves the request went through the "proxy" we named.
    const asked: string[] = [];
    const t = new Transport({
      proxies: {
        proxy: 'direct',
        selectProxy: async (url) => {
          asked.push(url);
          if (url.includes('symbols.invalid')) return nginx.url;
          if (url.includes('broken.invalid')) throw new Error('no answer from the IDE');
          return undefined;
        },
      },
    });
    const seen: string[] = [];
    try {
      const res = await t.get('http://symbols.invalid/store/f1.bin', { onProxy: (c) => seen.push(`${c.source} ${c.detail}`) });
      assert.equal(res.status, 200);
      assert.ok((await readAll(res.body)).equals(big));
      const direct = await t.get(`${nginx.url}/store/f2.bin`, { onProxy: (c) => seen.push(`${c.source} ${c.detail}`) });
      assert.equal(direct.status, 200);
      await direct.discard();
      await assert.rejects(t.get('http://broken.invalid/x'), (err: unknown) => isSymsrvError(err, 'E_PROXY') && /selectProxy callback failed for http:\/\/broken\.invalid\/: no answer from the IDE/.test(err.message));
    } finally {
      await t.close();
    }
    assert.deepEqual(asked, ['http://symbols.invalid/store/f1.bin', `${nginx.url}/store/f2.bin`, 'http://broken.invalid/x']);
    assert.equal(seen[0], `caller the selectProxy callback answered ${nginx.url} for http://symbols.invalid/`);
    assert.match(seen[1] ?? '', /^option proxy option 'direct'/);
  });
});
