import { createReadStream, type ReadStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { join, normalize } from 'node:path';

export interface FaultServer {
  /** http://127.0.0.1:PORT */
  url: string;
  stop(): Promise<void>;
  /** Requests received so far. */
  readonly requests: number;
  /** Every request received: method, URL and headers (to check, e.g., that no credential arrived). */
  readonly log: ReadonlyArray<{ method: string; url: string; headers: IncomingHttpHeaders }>;
}

export interface FaultServerOptions {
  root: string;
  /** /slow/: bytes per chunk (default 4096) and pause between chunks (default 20 ms). */
  slow?: { chunkBytes?: number; delayMs?: number };
}

/**
 * Faults nginx cannot be made to produce, for the files under `root`. This is a fault injector,
 * not the origin under test (the real origin is nginx, see nginx.ts):
 *   /truncate/<path>       200 with the Content-Length of the whole file, half the body, then the
 *                          connection is cut
 *   /truncate-once/<path>  the first request per path truncates, later ones get the whole file
 *   /flaky/<path>          503 the first time per path, then the file
 *   /stall/<path>          200, headers and the first 16 bytes, then nothing until stop()
 *   /slow/<path>           the whole file in small chunks with pauses, so a kill can land mid-download
 * Anything else, or a file that does not exist, is a 404. Sockets use TCP_NODELAY.
 */
export async function startFaultServer(opts: FaultServerOptions): Promise<FaultServer> {
  const chunkBytes = opts.slow?.chunkBytes ?? 4096;
  const delayMs = opts.slow?.delayMs ?? 20;
  const seen = new Set<string>();
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  const streams = new Set<ReadStream>();
  const log: Array<{ method: string; url: string; headers: IncomingHttpHeaders }> = [];

  const server = createServer((req, res) => {
    log.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    void answer(req.url ?? '/', res).catch(() => res.socket?.destroy());
  });

  async function answer(url: string, res: ServerResponse): Promise<void> {
    let path: string;
    try {
      path = decodeURIComponent(url.split('?')[0]!);
    } catch {
      return status(res, 400);
    }
    const m = /^\/([a-z-]+)\/(.*)$/.exec(path);
    if (!m) return status(res, 404);
    const mode = m[1]!;
    const rel = normalize(m[2]!);
    if (rel === '..' || rel.startsWith('../')) return status(res, 404);
    const file = join(opts.root, rel);
    const st = await stat(file).catch(() => undefined);
    if (!st?.isFile()) return status(res, 404);
    const first = !seen.has(`${mode}:${rel}`);
    seen.add(`${mode}:${rel}`);
    const headers = { 'content-type': 'application/octet-stream', 'content-length': String(st.size) };

    switch (mode) {
      case 'truncate':
      case 'truncate-once': {
        if (mode === 'truncate-once' && !first) return whole(res, file, headers);
        res.writeHead(200, headers);
        res.flushHeaders();
        const half = await readBytes(file, Math.floor(st.size / 2));
        // Cut the connection only once the half body has left: what the client sees is exactly
        // "Content-Length promised N, N/2 arrived, then the connection closed".
        res.write(half, () => res.socket?.destroy());
        return;
      }
      case 'flaky':
        if (first) return status(res, 503);
        return whole(res, file, headers);
      case 'stall':
        res.writeHead(200, headers);
        res.write(await readBytes(file, 16));
        return; // never ends: the client's timeout (or a kill) must end it; stop() cuts it
      case 'slow': {
        res.writeHead(200, headers);
        const s = createReadStream(file, { highWaterMark: chunkBytes });
        streams.add(s);
        s.on('data', (chunk) => {
          s.pause();
          res.write(chunk);
          const t = setTimeout(() => {
            timers.delete(t);
            s.resume();
          }, delayMs);
          timers.add(t);
        });
        s.on('end', () => res.end());
        s.on('close', () => streams.delete(s));
        res.on('close', () => s.destroy());
        return;
      }
      default:
        return status(res, 404);
    }
  }

  function whole(res: ServerResponse, file: string, headers: Record<string, string>): void {
    res.writeHead(200, headers);
    const s = createReadStream(file);
    streams.add(s);
    s.on('close', () => streams.delete(s));
    s.pipe(res);
  }

  server.on('connection', (socket) => {
    socket.setNoDelay(true);
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as { port: number };
  let stopping: Promise<void> | undefined;
  return {
    url: `http://127.0.0.1:${port}`,
    get requests() {
      return log.length;
    },
    log,
    stop: () =>
      (stopping ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const t of timers) clearTimeout(t);
        for (const s of streams) s.destroy();
        for (const s of sockets) s.destroy();
      })),
  };
}

function status(res: ServerResponse, code: number): void {
  res.writeHead(code, { 'content-length': '0' });
  res.end();
}

/** The first `n` bytes of a file (fewer if it is shorter). */
async function readBytes(file: string, n: number): Promise<Buffer> {
  const fh = await open(file, 'r');
  try {
    const buf = Buffer.alloc(n);
    const { bytesRead } = await fh.read(buf, 0, n, 0);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}
