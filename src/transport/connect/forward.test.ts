import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startFaultProxy, type FaultProxy } from '../../../test/helpers/fault-proxy.js';
import { isSymsrvError } from '../../errors.js';
import { Transport } from '../transport.js';

// Plain-HTTP requests through a proxy that misbehaves (test/helpers/fault-proxy.ts): each fault is
// a clear SymsrvError within the configured time, and the lane is usable afterwards.

describe('a misbehaving proxy for plain HTTP (absolute-URI requests on lanes)', () => {
  let proxy: FaultProxy;
  let t: Transport;

  before(async () => {
    proxy = await startFaultProxy();
    // One lane: a lane left busy by a fault would block the next request.
    t = new Transport({ retries: 0, connectTimeout: 2000, headersTimeout: 700, connectionsPerOrigin: 1, proxies: { proxy: proxy.url } });
  });
  after(async () => {
    await t?.close();
    await proxy?.stop();
  });

  async function fails(host: string, code: string, message: RegExp): Promise<void> {
    await assert.rejects(t.get(`http://${host}/store/x.pdb`), (err: unknown) => {
      assert.ok(isSymsrvError(err), `a SymsrvError, not ${String(err)}`);
      assert.equal(err.code, code, err.message);
      assert.match(err.message, message);
      return true;
    });
  }

  for (const [mode, code, message] of [
    ['garbage', 'E_PROXY', /^the proxy http:\/\/127\.0\.0\.1:\d+: its answer is not HTTP \(HPE_/],
    ['close', 'E_NETWORK', /the proxy http:\/\/127\.0\.0\.1:\d+ closed the connection before answering/],
    ['huge', 'E_PROXY', /^the proxy http:\/\/127\.0\.0\.1:\d+: its answer has too many bytes of headers/],
    ['noscheme', 'E_PROXY_AUTH', /demands authentication with a scheme symsrv cannot use here \(offered: none/],
    ['stall', 'E_TIMEOUT', /timed out waiting for the response headers \(0\.7 s\)/],
  ] as const) {
    test(`${mode}: ${code}, and the lane serves the next request`, { timeout: 10_000 }, async () => {
      proxy.modes.set(mode, mode);
      await fails(mode, code, message);
      // The next request on the one lane gets its own answer (a 403 here), not a hang.
      proxy.modes.set('next', 'forbidden');
      const res = await t.get('http://next/store/x.pdb');
      assert.equal(res.status, 403);
      await res.discard();
    });
  }

  // tinyproxy answers HTTP/1.1 without `Connection: close`, then closes: the next request on the
  // lane meets a dead socket. It was answered by nothing, so it goes again on a new connection
  // (with --retries 0 it used to fail: "closed the connection before answering").
  test('a kept-alive connection the proxy closed as it was reused: the GET goes again on a new one', { timeout: 10_000 }, async () => {
    proxy.modes.set('first', 'forbidden');
    const res = await t.get('http://first/store/x.pdb');
    assert.equal(res.status, 403);
    await res.discard();
    proxy.modes.set('reused', 'dropreused');
    const before = proxy.seen.length;
    const again = await t.get('http://reused/store/x.pdb');
    assert.equal(again.status, 403, 'answered on a new connection');
    await again.discard();
    assert.deepEqual(proxy.seen.slice(before), ['GET http://reused/store/x.pdb', 'GET http://reused/store/x.pdb']);
  });

  test('a request waiting for a busy lane ends at once when its caller aborts', { timeout: 10_000 }, async () => {
    const slow = new Transport({ retries: 0, headersTimeout: 5000, connectionsPerOrigin: 1, proxies: { proxy: proxy.url } });
    try {
      proxy.modes.set('held', 'stall');
      const first = slow.get('http://held/a').catch((e: unknown) => e); // holds the one lane for 5 s
      const stop = new AbortController();
      setTimeout(() => stop.abort(), 100);
      const t0 = Date.now();
      await assert.rejects(slow.get('http://held/b', { signal: stop.signal }), (e: unknown) => isSymsrvError(e, 'E_ABORTED'));
      assert.ok(Date.now() - t0 < 2000, `ended after ${Date.now() - t0} ms, not when the lane came free`);
      void first;
    } finally {
      await slow.close();
    }
  });
});

