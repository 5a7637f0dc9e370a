import { connect, createServer, type Server, type Socket } from 'node:net';

/**
 * A proxy that misbehaves on purpose, for what squid cannot be made to do. A fault injector, not
 * the proxy under test (that is squid, test/rig). The behaviour is chosen per target host (the
 * CONNECT authority or the absolute-URI's host), so one server serves every case:
 *   garbage    answers bytes that are not HTTP
 *   close      closes the connection without a word
 *   stall      reads the request and never answers
 *   forbidden  403 to everything
 *   noscheme   407 without a Proxy-Authenticate header
 *   huge       an endless header section (100 KB without its end)
 *   garbage200 (CONNECT) 200 Connection established, then bytes that are not TLS
 *   escapes    403 whose reason phrase holds terminal escapes (ESC, BEL, a C1 CSI)
 *   tunnel     (CONNECT only) 200, then bytes both ways to the real host:port (the default)
 *   dropreused closes a kept-alive connection that already served a request, without a word (as
 *              tinyproxy does after answering HTTP/1.1 without `Connection: close`); on a new
 *              connection, 403 as `forbidden`
 * `modes` maps a host to its behaviour; hosts not in it get the default.
 */
export interface FaultProxy {
  /** http://127.0.0.1:PORT */
  url: string;
  modes: Map<string, FaultMode>;
  /** Requests received so far: `METHOD target`. */
  readonly seen: readonly string[];
  stop(): Promise<void>;
}

export type FaultMode = 'garbage' | 'close' | 'stall' | 'forbidden' | 'noscheme' | 'huge' | 'escapes' | 'garbage200' | 'tunnel' | 'dropreused';

export async function startFaultProxy(): Promise<FaultProxy> {
  const modes = new Map<string, FaultMode>();
  const seen: string[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.on('error', () => {});
    let head = Buffer.alloc(0);
    let served = 0;
    const onData = (chunk: Buffer): void => {
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      const [method = '', target = ''] = head.subarray(0, end).toString('latin1').split('\r\n')[0]!.split(' ');
      const rest = head.subarray(end + 4);
      head = Buffer.alloc(0);
      seen.push(`${method} ${target}`);
      const authority = method === 'CONNECT' ? target : new URL(target).host;
      const host = authority.replace(/:\d+$/, '').replace(/^\[|\]$/g, '');
      let mode = modes.get(host) ?? 'tunnel';
      if (mode === 'dropreused') mode = served > 0 ? 'close' : 'forbidden';
      served++;
      // A 403 or 407 keeps the connection for the next request (keep-alive); the rest end it.
      if (mode !== 'forbidden' && mode !== 'noscheme' && mode !== 'escapes') client.off('data', onData);
      answer(client, mode, method, authority, rest);
    };
    client.on('data', onData);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;

  function answer(client: Socket, mode: FaultMode, method: string, authority: string, rest: Buffer): void {
    switch (mode) {
      case 'garbage':
        client.end('SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n\r\n');
        return;
      case 'close':
        client.destroy();
        return;
      case 'stall':
        return;
      case 'forbidden':
        client.write('HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n');
        return;
      case 'garbage200':
        client.end('HTTP/1.1 200 Connection established\r\n\r\n<html><body>Access denied by corporate policy</body></html>\r\n'.repeat(4));
        return;
      case 'escapes':
        client.write(Buffer.from('HTTP/1.1 403 No\x1b]0;pwned\x07\x1b[2J\u009b31mway\r\nContent-Length: 0\r\n\r\n', 'utf8'));
        return;
      case 'noscheme':
        client.write('HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n');
        return;
      case 'huge':
        client.write(`HTTP/1.1 200 OK\r\nX-Filler: ${'x'.repeat(100 * 1024)}`);
        return;
      case 'tunnel': {
        if (method !== 'CONNECT') {
          client.end('HTTP/1.1 501 Not Implemented\r\nContent-Length: 0\r\n\r\n');
          return;
        }
        const i = authority.lastIndexOf(':');
        const upstream = connect(Number(authority.slice(i + 1)), authority.slice(0, i).replace(/^\[|\]$/g, ''), () => {
          client.write('HTTP/1.1 200 Connection established\r\n\r\n');
          if (rest.length) upstream.write(rest);
          client.pipe(upstream).pipe(client);
        });
        sockets.add(upstream);
        upstream.on('close', () => sockets.delete(upstream));
        upstream.on('error', () => client.destroy());
        return;
      }
    }
  }

  return {
    url: `http://127.0.0.1:${port}`,
    modes,
    seen,
    stop: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
