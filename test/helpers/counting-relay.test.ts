import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { startApacheProxy, type ApacheProxy } from '../rig/apache.js';
import { startCountingRelay, type CountingRelay } from './counting-relay.js';
import { startNginx, type NginxServer } from './nginx.js';
import { makeTempDir, removeDir } from './tempdir.js';
import { makeTestCertificates } from './tls.js';

/**
 * The counting relay's figures checked against an independent count: Apache's own access log
 * (`%>s`), with curl as the client, over keep-alive connections that carry 407s, bodies of every
 * size (nginx answers 404s and files with Content-Length, Apache relays them chunked or not) and
 * CONNECT tunnels, where counting must stop at the 200.
 */
describe('counting relay: its counts equal the proxy\'s own log', { timeout: 60_000 }, () => {
  let dir: string;
  let http: NginxServer;
  let https: NginxServer;
  let ca: string;
  let apache: ApacheProxy;
  let relay: CountingRelay;
  const password = 'relay-check';

  before(async () => {
    dir = await makeTempDir('symsrv-relay-test-');
    await mkdir(join(dir, 'tls'));
    await mkdir(join(dir, 'store'));
    const tls = await makeTestCertificates(join(dir, 'tls'));
    ca = tls.ca;
    for (let i = 0; i < 5; i++) await writeFile(join(dir, 'store', `f${i}`), Buffer.alloc(1000 * 8 ** i, i));
    http = await startNginx({ root: join(dir, 'store') });
    https = await startNginx({ root: join(dir, 'store'), tls: { cert: tls.cert, key: tls.key } });
    apache = await startApacheProxy({ scheme: 'digest', user: 'alice', password, connectPorts: [https.port] });
    relay = await startCountingRelay({ host: '127.0.0.1', port: apache.port });
  });

  after(async () => {
    await relay?.stop();
    await apache?.stop();
    await http?.stop();
    await https?.stop();
    if (dir) await removeDir(dir);
  });

  const curl = (args: string[]): Promise<unknown> =>
    promisify(execFile)('curl', ['-q', '-s', '--max-time', '20', '--cacert', ca, '--proxy', relay.url, ...args], { env: { PATH: process.env.PATH } }).catch(() => {});
  /** Files 0-4 (1 KB to 4 MB: small bodies and ones that span many reads) and a missing one (404), each to /dev/null. */
  const urls = (base: string): string[] => [0, 1, 2, 3, 4, 9].flatMap((i) => ['-o', '/dev/null', `${base}/store/f${i}`]);

  test('Digest over HTTP (a 407 per URL, keep-alive), 404s, and a CONNECT tunnel', async () => {
    await curl(['--proxy-digest', '-U', `alice:${password}`, ...urls(http.url)]);
    await curl(['--proxy-digest', '-U', `alice:${password}`, ...urls(https.url)]);
    await curl(['--proxy-digest', '-U', 'alice:wrong', '-o', '/dev/null', `${http.url}/store/f0`]);
    await curl(['-o', '/dev/null', `${https.url}/store/f0`]);
    const logged = await apache.count407();
    assert.ok(logged >= 9, `${logged} 407s in Apache's log`);
    assert.equal(relay.count(407), logged);
    assert.equal(relay.unframed(), 0);
    assert.equal(relay.unanswered(), 0);
    assert.ok(relay.count(200) >= 6 && relay.count(404) >= 1, 'the 200s and the 404 of the HTTP URLs, and the CONNECT 200');
  });
});
