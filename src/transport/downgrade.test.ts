import assert from 'node:assert/strict';
import { copyFile, mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startFaultProxy, type FaultProxy } from '../../test/helpers/fault-proxy.js';
import { startNginx, type NginxServer } from '../../test/helpers/nginx.js';
import { makeTempDir, removeDir } from '../../test/helpers/tempdir.js';
import { makeTestCertificates } from '../../test/helpers/tls.js';
import { CRASH } from '../../test/helpers/fixture-store.js';
import { isSymsrvError } from '../errors.js';
import { Transport } from './transport.js';

const FIX = new URL('../../../test/fixtures/', import.meta.url).pathname;

/**
 * Issue 14 #15, decided: (1) an HTTPS store redirecting to plain HTTP is refused: the https://
 * store promised a file nobody on the path could change, and a symbol file is checked only by
 * its GUID and age, never by a hash, so an http:// hop would let anyone on the path substitute
 * it (browsers warn on such downgrades; we cannot ask). (2) A proxy that says 200 to CONNECT,
 * then sends its own bytes, is reported as the proxy's garbage, not a certificate problem.
 */
describe('HTTPS downgrade and a CONNECT answered with garbage', () => {
  let tmp: string;
  let https: NginxServer;
  let http: NginxServer;
  let ca: string;
  let proxy: FaultProxy;

  before(async () => {
    tmp = await makeTempDir('symsrv-downgrade-');
    await mkdir(join(tmp, 'www', CRASH, '..'), { recursive: true });
    await copyFile(join(FIX, 'pdb/crash.pdb'), join(tmp, 'www', CRASH));
    const certs = await makeTestCertificates(tmp);
    ca = await readFile(certs.ca, 'utf8');
    https = await startNginx({ root: join(tmp, 'www'), tls: { cert: certs.cert, key: certs.key } });
    http = await startNginx({ root: join(tmp, 'www') });
    proxy = await startFaultProxy();
    proxy.modes.set('blocked.test', 'garbage200');
  });
  after(async () => {
    await https?.stop();
    await http?.stop();
    await proxy?.stop();
    if (tmp) await removeDir(tmp);
  });

  test('regression: an https:// store redirecting to http:// on another host is refused, not followed silently', async () => {
    const t = new Transport({ ca: [ca], retries: 0 });
    const other = http.url.replace('127.0.0.1', 'localhost').replace('http://', '');
    try {
      await assert.rejects(t.get(`${https.url}/cross/http/${other}/${CRASH}`), (e) => isSymsrvError(e, 'E_HTTP_STATUS') && /https:\/\/ to http:\/\//.test((e as Error).message) && e.retryable === false);
      // https -> https still works (Microsoft's server redirects to its CDN).
      const ok = await t.get(`${https.url}/cross/https/${https.url.replace('https://', '')}/${CRASH}`);
      assert.equal(ok.status, 200);
      await ok.discard();
    } finally {
      await t.close();
    }
    const log = await readFile(http.accessLog, 'utf8');
    assert.doesNotMatch(log, /crash\.pdb/, 'the http:// origin was never asked');
  });

  test('regression: a proxy that answers CONNECT with 200 and then garbage is E_PROXY naming it, not a certificate failure', async () => {
    const t = new Transport({ ca: [ca], retries: 0, proxies: { proxy: proxy.url } });
    try {
      await assert.rejects(t.get(`https://blocked.test/${CRASH}`), (e) => {
        const m = (e as Error).message;
        return isSymsrvError(e, 'E_PROXY') && m.includes(proxy.url) && /not TLS/.test(m) && !/certificate|cacert/i.test(m);
      });
    } finally {
      await t.close();
    }
  });
});
