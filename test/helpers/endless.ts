import { createServer } from 'node:http';
import type { Socket } from 'node:net';

export interface EndlessServer {
  /** http://127.0.0.1:PORT */
  url: string;
  /** Body bytes written so far, all requests together. */
  readonly sent: number;
  readonly requests: number;
  stop(): Promise<void>;
}

/**
 * A hostile origin nginx cannot be: `GET /endless/<hex>` answers 200 with no Content-Length
 * (chunked) and a body that never ends: the bytes `<hex>`, then 64 KiB chunks of zeros, for as
 * long as the client reads. `GET /announce/<n>` answers 200 with `Content-Length: n` and the
 * headers only (a client that believes it would wait; one that refuses it hangs up).
 */
export async function startEndlessServer(): Promise<EndlessServer> {
  let sent = 0;
  let requests = 0;
  const sockets = new Set<Socket>();
  const zeros = Buffer.alloc(64 * 1024);
  const server = createServer((req, res) => {
    requests++;
    const m = /^\/(endless|announce)\/([0-9a-fA-F]*|\d+)(?:\/|$)/.exec(req.url ?? '');
    if (!m) return void res.writeHead(404).end();
    if (m[1] === 'announce') {
      res.writeHead(200, { 'Content-Length': m[2]! });
      res.flushHeaders();
      return;
    }
    res.writeHead(200, { 'Content-Type': 'application/octet-stream' });
    const pump = (first: Buffer | undefined): void => {
      let ok = true;
      while (ok && !res.destroyed) {
        const chunk = first ?? zeros;
        first = undefined;
        sent += chunk.length;
        ok = res.write(chunk);
      }
      if (!res.destroyed) res.once('drain', () => pump(undefined));
    };
    pump(Buffer.from(m[2]!, 'hex'));
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    get sent() {
      return sent;
    },
    get requests() {
      return requests;
    },
    stop: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

