import assert from 'node:assert/strict';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startMicrosocks, type SocksServer } from '../../../test/rig/socks.js';
import { startNginx, type NginxServer } from '../../../test/helpers/nginx.js';
import { makeTempDir, removeDir } from '../../../test/helpers/tempdir.js';
import { isSymsrvError } from '../../errors.js';
import { Transport } from '../transport.js';

// The SOCKS5 connector's answers to what a SOCKS5 server can say: microsocks for the real refusals
// (a destination it cannot reach), and a listener that misbehaves (says nothing, speaks HTTP) for
// what no real SOCKS server does on purpose. Each ends in a SymsrvError naming the proxy, in time.
describe('SOCKS5 connector: refusals and misbehaving servers', () => {
  let micro: SocksServer;
  let origin: NginxServer;
  let tmp: string;
  let odd: Server;
  let oddPort: number;
  const held: Socket[] = [];
  const transports: Transport[] = [];
  const transport = (proxy: string, extra: { headersTimeout?: number } = {}): Transport => {
    const t = new Transport({ retries: 0, connectTimeout: 2000, headersTimeout: 1500, connectionsPerOrigin: 1, ...extra, proxies: { proxy } });
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
    micro = await startMicrosocks();
    tmp = await makeTempDir('symsrv-socks-');
    await writeFile(join(tmp, 'x.bin'), 'hello');
    origin = await startNginx({ root: tmp });
    // Stalls (accepts, never writes), answers as an HTTP proxy would, or relays to microsocks (a
    // working SOCKS5 proxy at the same address): the mode is set per test.
    odd = createServer((s) => {
      held.push(s);
      s.on('error', () => {});
      if (mode === 'http') s.once('data', () => s.end('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n'));
      if (mode === 'relay') {
        const up = connect(micro.port, '127.0.0.1');
        up.on('error', () => s.destroy());
        held.push(up);
        s.pipe(up).pipe(s);
      }
    });
    await new Promise<void>((resolve) => odd.listen(0, '127.0.0.1', resolve));
    oddPort = (odd.address() as { port: number }).port;
  });
  let mode: 'stall' | 'http' | 'relay' = 'stall';

  after(async () => {
    for (const t of transports) await t.close();
    for (const s of held) s.destroy();
    await new Promise((r) => odd?.close(r));
    await micro?.stop();
    await origin?.stop();
    if (tmp) await removeDir(tmp);
  });

  const auth = (): string => `${encodeURIComponent(micro.user)}:${encodeURIComponent(micro.password)}@`;

  test('socks5h: a name the proxy cannot resolve is the proxy\'s refusal, named', async () => {
    const t = transport(`socks5h://${auth()}127.0.0.1:${micro.port}`);
    await fails(t, 'http://no-such-host.invalid/x', 'E_PROXY', new RegExp(`^the SOCKS5 proxy socks5h://127\\.0\\.0\\.1:${micro.port} could not connect to no-such-host\\.invalid:80: \\w+`));
  });

  test('socks5: names are resolved here, and a failure says so', async () => {
    const t = transport(`socks5://${auth()}127.0.0.1:${micro.port}`);
    await fails(t, 'http://no-such-host.invalid/x', 'E_NETWORK', /^cannot resolve no-such-host\.invalid \(\w+\) for the SOCKS5 proxy .*; with socks5h:\/\/ the proxy resolves names itself/);
    assert.doesNotMatch(await micro.log(), /no-such-host/);
  });

  test('a server that never answers the greeting: E_TIMEOUT after the answer timeout, and the pool slot is free again', { timeout: 15_000 }, async () => {
    mode = 'stall';
    const t = transport(`socks5h://${auth()}127.0.0.1:${oddPort}`);
    const url = `${origin.url}/store/x.bin`;
    await fails(t, url, 'E_TIMEOUT', /timed out|did not finish its handshake/);
    // The same origin again, now relayed to a working SOCKS5 server: with one connection per
    // origin, it gets the slot only if the dead handshake gave it back.
    mode = 'relay';
    const res = await t.get(url);
    assert.equal(res.status, 200);
    await res.discard();
  });

  test('an HTTP proxy given as socks5://: says its answer is not SOCKS5', async () => {
    mode = 'http';
    const t = transport(`socks5://127.0.0.1:${oddPort}`);
    await fails(t, 'http://127.0.0.1:1/x', 'E_PROXY', new RegExp(`^the proxy socks5://127\\.0\\.0\\.1:${oddPort}: its answer is not SOCKS5 \\(an HTTP proxy\\? then give it as http://host:port\\)`));
  });
});
