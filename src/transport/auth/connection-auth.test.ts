import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ConnectionAuth } from './connection-auth.js';
import { ProxyAuth } from './proxy-auth.js';
import type { ResolvedCredentials } from './credentials.js';

/**
 * ConnectionAuth driven round by round without a socket: what goes out before the proxy has named
 * its schemes, and the messages when Negotiate cannot work. The socket side is proven against real
 * proxies in proxy.e2e.test.ts (squid) and tinyproxy.e2e.test.ts.
 */

const PROXY = new URL('http://proxy.example:3128');
const REQ = { method: 'GET', uri: 'http://origin.example/a.pdb' };
const CREDS: ResolvedCredentials = { user: 'alice', domain: 'CORP', password: 'pw', source: 'option', typed: 'CORP\\alice' };
/** What Node throws when an optional package is not installed (issue 13, defect 5). */
const missing = (): Promise<never> => Promise.reject(Object.assign(new Error("Cannot find package 'kerberos' imported from /opt/symsrv/dist/bin/symsrv.js"), { code: 'ERR_MODULE_NOT_FOUND' }));

describe('ConnectionAuth: the first contact', () => {
  test('a proxy we know nothing of gets nothing scheme-specific; its 407 then decides', async () => {
    const auth = new ProxyAuth(PROXY, { credentials: CREDS, loadKerberos: missing });
    const c = new ConnectionAuth(auth);
    assert.equal(await c.first(REQ), undefined, 'no NTLM Type 1, no Kerberos token before the proxy asks');
    assert.match(await c.next(REQ, 'Basic realm="Tinyproxy"', { sameConnection: false }), /^Basic /);
    c.accepted();
    // A new connection now answers Basic at once.
    assert.match((await new ConnectionAuth(auth).first({ ...REQ })) ?? '', /^Basic /);
  });

  test('while one request discovers, the others wait for its 407, then open with the chosen scheme', async () => {
    const auth = new ProxyAuth(PROXY, { credentials: CREDS, loadKerberos: missing });
    const a = new ConnectionAuth(auth);
    const b = new ConnectionAuth(auth);
    assert.equal(await a.first(REQ), undefined);
    let bFirst: string | undefined | null = null;
    const waiting = b.first({ ...REQ }).then((h) => (bFirst = h));
    await new Promise((r) => setImmediate(r));
    assert.equal(bFirst, null, 'b waits for the discovery');
    assert.match(await a.next(REQ, ['NTLM'], { sameConnection: true }), /^NTLM TlRMTVNTUAAB/);
    // b's Type 1 waits for a's try of the credentials too (one failed logon at a time).
    await new Promise((r) => setImmediate(r));
    assert.equal(bFirst, null, 'b waits for the trial');
    a.settle();
    await waiting;
    assert.match(bFirst ?? '', /^NTLM TlRMTVNTUAAB/);
  });

  test('--proxy-auth ntlm (one scheme named): the Type 1 goes at once', async () => {
    const auth = new ProxyAuth(PROXY, { credentials: CREDS, allowed: ['ntlm'] });
    assert.match((await new ConnectionAuth(auth).first(REQ)) ?? '', /^NTLM TlRMTVNTUAAB/);
  });
});

describe('ConnectionAuth: Negotiate without the kerberos package (issue 13, defect 5)', () => {
  test('no credentials: says the package is missing, how to get it, and what works meanwhile', async () => {
    const c = new ConnectionAuth(new ProxyAuth(PROXY, { loadKerberos: missing }));
    await c.first(REQ);
    await assert.rejects(c.next(REQ, 'Negotiate', { sameConnection: true }), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'E_PROXY_AUTH_REQUIRED');
      assert.match(err.message, /requires authentication \(it offers Negotiate\)\. Kerberos could not be used: Kerberos is not available: the optional package "kerberos" could not be loaded \(Cannot find package 'kerberos'/);
      assert.match(err.message, /npm install kerberos/);
      assert.match(err.message, /libkrb5-dev on Debian and Ubuntu, krb5-devel on Fedora and RHEL/);
      assert.match(err.message, /Meanwhile, if the proxy's Negotiate also takes NTLM .* the proxyUser option .*DOMAIN\\user/);
      return true;
    });
  });

  test('a proxy that also offers Basic: the meanwhile names its other schemes', async () => {
    const c = new ConnectionAuth(new ProxyAuth(PROXY, { loadKerberos: missing }));
    await c.first(REQ);
    await assert.rejects(c.next(REQ, ['Negotiate', 'Basic realm="r"'], { sameConnection: true }), /npm install kerberos.*Meanwhile the proxy's other schemes take a user name and password/);
  });

  test('with credentials, a Negotiate-only proxy gets NTLM inside Negotiate meanwhile', async () => {
    const c = new ConnectionAuth(new ProxyAuth(PROXY, { credentials: CREDS, loadKerberos: missing }));
    await c.first(REQ);
    assert.match(await c.next(REQ, 'Negotiate', { sameConnection: true }), /^Negotiate TlRMTVNTUAAB/);
  });

  test("and if the proxy's Negotiate takes no NTLM, the failure says how to get Kerberos", async () => {
    const c = new ConnectionAuth(new ProxyAuth(PROXY, { credentials: CREDS, loadKerberos: missing }));
    await c.first(REQ);
    await c.next(REQ, 'Negotiate', { sameConnection: true });
    await assert.rejects(c.next(REQ, 'Negotiate', { sameConnection: true }), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'E_PROXY_AUTH');
      assert.match(err.message, /^proxy authentication failed at http:\/\/proxy\.example:3128 \(Negotiate: Kerberos is not available: the optional package "kerberos" could not be loaded .*; the proxy's Negotiate does not take NTLM/);
      assert.match(err.message, /npm install kerberos/);
      return true;
    });
  });
});
