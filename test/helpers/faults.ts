import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { join, normalize } from 'node:path';

export interface FaultServer {
  url: string;
  stop(): Promise<void>;
  /** Requests answered so far. */
  readonly requests: number;
}

/**
 * Faults nginx cannot be made to produce, for the files under `root` (this is a fault injector,
 * not the origin under test: the real origin is nginx):
 *   /truncate/<path>       Content-Length of the whole file, half the body, then the socket is destroyed
 *   /truncate-once/<path>  the first request per path truncates, later ones serve the whole file
 *   /flaky/<path>          503 the first time per path, then the file
 *   /stall/<path>          headers and a few bytes, then nothing (until stop())
 *   /slow/<path>           the file in 4 KiB chunks, 20 ms apart
 */
export async function startFaultServer(opts: { root: string }): Promise<FaultServer> {
  const seen = new Set<string>();
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  let requests = 0;

  const server = createServer(async (req, res) => {
    requests++;
    const m = /^\/([a-z-]+)\/(.*)$/.exec(decodeURIComponent((req.url ?? '/').split('?')[0]!));
    const mode = m?.[1] ?? '';
    const rel = normalize(m?.[2] ?? '');
    if (!m || rel.startsWith('..')) return notFound(res);
    const file = join(opts.root, rel);
    const st = await stat(file).catch(() => undefined);
    if (!st?.isFile()) return notFound(res);
    const first = !seen.has(`${mode}:${rel}`);
    seen.add(`${mode}:${rel}`);
    const headers = { 'content-type': 'application/octet-stream', 'content-length': String(st.size) };

    switch (mode) {
      case 'truncate':
      case 'truncate-once': {
        if (mode === 'truncate-once' && !first) return whole(res, file, headers);
        res.writeHead(200, headers);
        const half = Math.max(1, Math.floor(st.size / 2));
        const s = createReadStream(file, { start: 0, end: half - 1 });
        s.on('data', (chunk) => res.write(chunk));
        s.on('end', () => setImmediate(() => res.socket?.destroy()));
        return;
      }
      case 'flaky':
        if (first) {
          res.writeHead(503, { 'content-length': '0' });
          return res.end();
        }
        return whole(res, file, headers);
      case 'stall': {
        res.writeHead(200, headers);
        res.write(Buffer.alloc(Math.min(16, st.size)));
        return; // never ends: the client's idle timeout must fire
      }
      case 'slow': {
        res.writeHead(200, headers);
        const s = createReadStream(file, { highWaterMark: 4096 });
        s.on('data', (chunk) => {
          s.pause();
          res.write(chunk);
          const t = setTimeout(() => {
            timers.delete(t);
            s.resume();
          }, 20);
          timers.add(t);
        });
        s.on('end', () => res.end());
        return;
      }
      default:
        return notFound(res);
    }
  });
  server.on('connection', (socket) => {
    socket.setNoDelay(true);
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    get requests() {
      return requests;
    },
    async stop() {
      for (const t of timers) clearTimeout(t);
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function notFound(res: ServerResponse): void {
  res.writeHead(404, { 'content-length': '0' });
  res.end();
}

function whole(res: ServerResponse, file: string, headers: Record<string, string>): void {
  res.writeHead(200, headers);
  createReadStream(file).pipe(res);
}
