import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import { escapeControls } from '../escape.js';
import type { ClientAuth } from './auth.js';
import { ClientGone, localBlobs, sendFile, type Blobs } from './files.js';
import { Lookups, type SymbolSource } from './lookup.js';
import { Metrics } from './metrics.js';
import { route } from './routes.js';

export interface ServeOptions {
  source: SymbolSource;
  /** Seconds a miss is remembered (SymProxy's default: 3600); 0: never. */
  negativeTtl?: number;
  auth?: ClientAuth;
  tls?: { cert: string | Buffer; key: string | Buffer };
  /** One line per request; never a credential (the Authorization header is not logged). */
  log?: (line: string) => void;
  blobs?: Blobs;
}

export interface SymbolServer {
  server: Server;
  metrics: Metrics;
  /** Stops accepting, lets requests in flight finish (at most `graceMs`), then closes idle connections. */
  drain(graceMs?: number): Promise<void>;
}

/**
 * `symsrv serve`: a symbol server in the manner of SymProxy. A key is looked up with the
 * library's chain (cache hit → the file; miss → upstream through the transport's proxy and its
 * authentication, checked, cached, then served); the debuginfod webapi on the same port.
 * 404s never carry HTML (SymSrv clients read a 200 of HTML as a file); failures upstream are 502
 * with a one-line text body and are not cached.
 */
export function createSymbolServer(options: ServeOptions): SymbolServer {
  const metrics = new Metrics();
  const lookups = new Lookups(options.source, (options.negativeTtl ?? 3600) * 1000);
  const blobs = options.blobs ?? localBlobs;
  const log = options.log;
  const sockets = new Set<Socket>();
  let draining = false;

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const started = process.hrtime.bigint();
    metrics.inFlight++;
    let result = 'bad';
    let key = '-';
    let bytes = 0;
    const text = (status: number, body: string, extra: Record<string, string> = {}): void => {
      res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(body + '\n'), ...extra });
      res.end(req.method === 'HEAD' ? undefined : body + '\n');
    };
    try {
      if (draining) res.setHeader('Connection', 'close');
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        result = 'bad';
        return text(405, 'only GET and HEAD', { Allow: 'GET, HEAD' });
      }
      const r = route(req.url ?? '/');
      if (r.kind === 'health') {
        result = 'health';
        return text(200, 'ok');
      }
      if (options.auth && !(await options.auth(req))) {
        result = 'unauthorized';
        return text(401, 'authentication required', { 'WWW-Authenticate': 'Basic realm="symsrv", charset="UTF-8"' });
      }
      if (r.kind === 'metrics') {
        result = 'metrics';
        return text(200, metrics.text().trimEnd(), { 'Content-Type': 'text/plain; version=0.0.4' });
      }
      if (r.kind === 'bad') {
        result = 'bad';
        return text(400, `bad request: ${r.reason}`);
      }
      if (r.kind === 'not-here') {
        result = 'miss';
        return text(404, 'not found');
      }
      key = r.key.index;
      const lookupStart = process.hrtime.bigint();
      const outcome = await lookups.find(r.key);
      result = outcome.result;
      if (outcome.result === 'upstream' || outcome.result === 'miss' || outcome.result === 'error') {
        metrics.observeUpstream(Number(process.hrtime.bigint() - lookupStart) / 1e9);
      }
      if (outcome.result === 'error') return text(502, `upstream failed: ${escapeControls(outcome.message)}`);
      if (!('path' in outcome)) return text(404, 'not found');
      let sent;
      try {
        sent = await sendFile(req, res, blobs, outcome.path);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || res.headersSent) throw err;
        // A remembered file removed under us (a cache cleared): look it up again, once.
        lookups.forget(r.key);
        const again = await lookups.find(r.key);
        result = again.result;
        if (again.result === 'error') return text(502, `upstream failed: ${escapeControls(again.message)}`);
        if (!('path' in again)) return text(404, 'not found');
        sent = await sendFile(req, res, blobs, again.path);
      }
      bytes = sent.bytes;
      if (sent.status === 304) result = 'not_modified';
    } catch (err) {
      if (err instanceof ClientGone) {
        result = 'client_gone';
      } else {
        result = 'error';
        if (!res.headersSent) text(500, 'internal error');
        else res.destroy();
        log?.(`error ${escapeControls((err as Error)?.message ?? String(err))}`);
      }
    } finally {
      metrics.inFlight--;
      metrics.count(result);
      metrics.bytes += bytes;
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      log?.(`${new Date().toISOString()} ${req.socket.remoteAddress ?? '-'} ${req.method} ${escapeControls(req.url ?? '')} key=${escapeControls(key)} ${result} ${res.statusCode} ${bytes} ${ms.toFixed(1)}ms`);
    }
  };

  const listener = (req: IncomingMessage, res: ServerResponse): void => void handle(req, res);
  const server = options.tls ? createHttpsServer({ cert: options.tls.cert, key: options.tls.key }, listener) : createHttpServer(listener);
  // Keep-alive for debuggers that probe many keys on one connection; bounded header time.
  server.keepAliveTimeout = 30_000;
  server.headersTimeout = 30_000;
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });

  const drain = async (graceMs = 30_000): Promise<void> => {
    draining = true;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    const deadline = Date.now() + graceMs;
    while (metrics.inFlight > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    server.closeIdleConnections();
    for (const s of sockets) s.destroy();
    await closed;
  };
  return { server, metrics, drain };
}
