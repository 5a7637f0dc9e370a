import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startFaultProxy, type FaultProxy } from '../../../test/helpers/fault-proxy.js';
import { startNginx, type NginxServer } from '../../../test/helpers/nginx.js';
import { makeTempDir, removeDir } from '../../../test/helpers/tempdir.js';
import { makeTestCertificates } from '../../../test/helpers/tls.js';
import { isSymsrvError } from '../../errors.js';
import { Transport } from '../transport.js';

// A proxy that misbehaves (test/helpers/fault-proxy.ts) in front of a real HTTPS nginx: every
// fault ends in a clear SymsrvError that names the proxy, within the configured time, and leaves
// the connection pool usable.

describe('a misbehaving proxy: clear errors, bounded waits, no leaked connection slots', () => {
  let tmp: string;
  let proxy: FaultProxy;
  let origin: NginxServer;
  let ca: string;
  const transports: Transport[] = [];

  const transport = (): Transport => {
    // One connection per origin: a slot held by a dead tunnel would show at once.
    const t = new Transport({ retries: 0, connectTimeout: 2000, headersTimeout: 700, connectionsPerOrigin: 1, ca: [ca], proxies: { proxy: proxy.url } });
    transports.push(t);
    return t;
  };

  async function fails(t: Transport, url: string, code: string, message: RegExp): Promise<void> {
    await assert.rejects(t.get(url), (err: unknown) => {
      assert.ok(isSymsrvError(err), `a SymsrvError, not ${String(err)}`);
      assert.equal(err.code, code, err.message);
      assert.match(err.message, message);
      return true;
    });
  }

  before(async () => {
    tmp = await makeTempDir('symsrv-proxy-faults-');
    await mkdir(join(tmp, 'www'));
    await writeFile(join(tmp, 'www', 'x.bin'), 'hello');
    const certs = await makeTestCertificates(tmp);
    ca = await readFile(certs.ca, 'utf8');
    origin = await startNginx({ root: join(tmp, 'www'), tls: { cert: certs.cert, key: certs.key } });
    proxy = await startFaultProxy();
  });
  after(async () => {
    for (const t of transports) await t.close();
    await proxy?.stop();
    await origin?.stop();
    await removeDir(tmp);
  });

  const port = (): string => new URL(origin.url).port;
  const url = (host: string): string => `https://${host}:${port()}/store/x.bin`;

  test('the fault proxy tunnels a well-behaved CONNECT to the real origin', async () => {
    const res = await transport().get(url('localhost'));
    assert.equal(res.status, 200);
    await res.discard();
  });

  test('an answer that is not HTTP: E_PROXY naming the proxy and what came back', async () => {
    proxy.modes.set('garbage', 'garbage');
    await fails(transport(), url('garbage'), 'E_PROXY', new RegExp(`^the proxy ${proxy.url}: its answer is not HTTP: "SSH-2\\.0`));
  });

  test('a connection closed without an answer: E_NETWORK (retried: usually passing)', async () => {
    proxy.modes.set('close', 'close');
    await fails(transport(), url('close'), 'E_NETWORK', /closed the connection before answering/);
  });

  test('a header section without end: E_PROXY, reading stops at 64 KiB', async () => {
    proxy.modes.set('huge', 'huge');
    await fails(transport(), url('huge'), 'E_PROXY', /more than 65536 bytes of headers/);
  });

  test('403 to CONNECT: E_PROXY naming the target and the status', async () => {
    proxy.modes.set('forbidden', 'forbidden');
    await fails(transport(), url('forbidden'), 'E_PROXY', new RegExp(`refused CONNECT forbidden:${port()}: 403 Forbidden`));
  });

  test('407 without Proxy-Authenticate: E_PROXY_AUTH saying no scheme was offered', async () => {
    proxy.modes.set('noscheme', 'noscheme');
    await fails(transport(), url('noscheme'), 'E_PROXY_AUTH', /demands authentication with a scheme symsrv cannot use here \(offered: none/);
  });

  test('a proxy that never answers CONNECT: E_TIMEOUT after the headers timeout, and the connection slot is free again', { timeout: 10_000 }, async () => {
    const t = transport();
    proxy.modes.set('localhost', 'stall');
    const t0 = Date.now();
    await fails(t, url('localhost'), 'E_TIMEOUT', /timed out|did not answer CONNECT/);
    assert.ok(Date.now() - t0 < 5000, 'bounded by the timeouts');
    // The same origin again, now answered: it must get the one slot (a dead tunnel kept it before).
    proxy.modes.delete('localhost');
    await new Promise((r) => setTimeout(r, 800)); // past the tunnel's own answer timeout
    const res = await t.get(url('localhost'));
    assert.equal(res.status, 200);
    await res.discard();
  });

  test('closing the transport while a tunnel is being set up stops it cleanly', { timeout: 10_000 }, async () => {
    const t = new Transport({ retries: 0, headersTimeout: 60_000, connectionsPerOrigin: 1, ca: [ca], proxies: { proxy: proxy.url } });
    proxy.modes.set('stalled', 'stall');
    const pending = t.get(url('stalled'));
    const outcome = pending.then(
      () => 'answered',
      (err: unknown) => (isSymsrvError(err) ? err.code : String(err)),
    );
    for (let i = 0; i < 100 && !proxy.seen.some((r) => r.startsWith('CONNECT stalled:')); i++) await new Promise((r) => setTimeout(r, 10));
    await t.close(); // threw "destroy is not a function" on the pending tunnel's place in the pool
    assert.notEqual(await outcome, 'answered');
  });
});
