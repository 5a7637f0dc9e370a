import { createServer, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/**
 * An origin that answers what no well-kept server would, for the cases nginx (nginx.ts) and the
 * fault server (faults.ts) cannot make. A fault injector, not the origin under test.
 *   /endless-404/<any>        404 without Content-Length, then a body that never ends
 *   /bad-location/<n>/<any>   302 with LOCATIONS[n], a Location no URL parser accepts
 *   /retry-after/<v>/<any>    the first request per path: 503 with `Retry-After: <v>`
 *                             (seconds or an HTTP date, URL-encoded); later: 200 with the path
 *   /https-downgrade/<url>    302 to the decoded <url> (for an HTTPS origin redirecting to HTTP)
 * Everything else is a 404 with a short body.
 */
export const LOCATIONS = ['http://[::1', 'http://a b/', 'http://127.0.0.1:99999/x'] as const;

export interface HostileOrigin {
  url: string;
  /** `METHOD path` of every request, in order. */
  readonly seen: readonly string[];
  /** Bytes of endless bodies written so far (to check the client stopped reading). */
  readonly endlessBytes: number;
  stop(): Promise<void>;
}

export async function startHostileOrigin(): Promise<HostileOrigin> {
  const seen: string[] = [];
  const sockets = new Set<Socket>();
  const retried = new Set<string>();
  let endlessBytes = 0;
  const server = createServer((req, res) => {
    const path = req.url ?? '/';
    seen.push(`${req.method} ${path}`);
    const [, route = '', arg = ''] = /^\/([a-z0-9-]+)\/([^/]*)/.exec(path) ?? [];
    switch (route) {
      case 'endless-404':
        return endless(res, 404);
      case 'bad-location':
        res.writeHead(302, { location: LOCATIONS[Number(arg)] ?? '/', 'content-length': '0' });
        return void res.end();
      case 'retry-after':
        if (!retried.has(path)) {
          retried.add(path);
          res.writeHead(503, { 'retry-after': decodeURIComponent(arg), 'content-length': '0' });
          return void res.end();
        }
        res.writeHead(200, { 'content-type': 'text/plain', 'content-length': String(Buffer.byteLength(path)) });
        return void res.end(path);
      case 'https-downgrade':
        res.writeHead(302, { location: decodeURIComponent(arg), 'content-length': '0' });
        return void res.end();
      default:
        res.writeHead(404, { 'content-length': '9' });
        res.end('not found');
    }
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });

  /** Writes 64 KiB chunks for as long as the client reads (chunked: no Content-Length). */
  function endless(res: ServerResponse, status: number): void {
    res.writeHead(status, { 'content-type': 'text/html' });
    const chunk = Buffer.alloc(64 * 1024, 'x');
    const pump = (): void => {
      while (!res.destroyed && res.write(chunk)) endlessBytes += chunk.length;
      if (!res.destroyed) res.once('drain', pump);
    };
    res.on('error', () => {});
    pump();
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    get endlessBytes() {
      return endlessBytes;
    },
    stop: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
