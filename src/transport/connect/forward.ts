import { Agent, request as httpRequest, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { SymsrvError } from '../../errors.js';
import type { Watcher } from '../guard.js';
import { ConnectionAuth, MAX_AUTH_ROUNDS } from '../auth/connection-auth.js';
import type { ProxyAuth } from '../auth/proxy-auth.js';
import { describeProxy } from '../select/select.js';
import { isConnectFailure, unreachableProxy } from './unreachable.js';

/**
 * Plain-HTTP requests through a proxy (absolute-URI form, `GET http://host/path`), on a pool of
 * single-socket lanes. NTLM and Negotiate authenticate a connection, and every round of their
 * handshake must travel on it: a lane is one keep-alive socket (an Agent with maxSockets 1) with
 * its own authentication state, used by one request at a time, so the 407 answer, the next
 * round and the following requests all go down the same socket. When the proxy closes a lane's
 * socket, the lane's state starts over with the new one.
 */
interface Lane {
  agent: Agent;
  socket: Socket | undefined;
  auth: ConnectionAuth | undefined;
  busy: boolean;
}

export interface ForwardOptions {
  lanes: number;
  keepAliveTimeout: number;
}

export class ForwardPool {
  private readonly lanes: Lane[];
  private readonly waiting: Array<(lane: Lane) => void> = [];

  constructor(
    private readonly proxy: URL,
    private readonly auth: ProxyAuth,
    private readonly options: ForwardOptions,
  ) {
    this.lanes = Array.from({ length: Math.max(1, options.lanes) }, () => ({
      agent: new Agent({ keepAlive: true, maxSockets: 1, maxFreeSockets: 1, timeout: options.keepAliveTimeout }),
      socket: undefined,
      auth: undefined,
      busy: false,
    }));
  }

  /**
   * Sends `GET url` through the proxy, answering 407s on the same lane, and resolves with the
   * first non-407 response. The lane is free again once that response's body ends or is closed.
   */
  async request(url: URL, headers: Record<string, string>, guard?: Watcher): Promise<IncomingMessage> {
    const lane = await this.acquire(guard);
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      this.release(lane);
    };
    try {
      const authRequest = { method: 'GET', uri: withoutUserinfo(url) };
      const fresh = !lane.socket || lane.socket.destroyed;
      if (fresh) lane.auth = new ConnectionAuth(this.auth);
      let reused = !fresh;
      let header = await lane.auth!.first(authRequest);
      for (let round = 1; ; round++) {
        let res: IncomingMessage;
        try {
          res = await this.send(lane, url, headers, header, guard);
        } catch (err) {
          // A kept-alive socket the proxy closed as the request went out: cntlm says
          // `Connection: keep-alive` and closes after every answer, tinyproxy answers HTTP/1.1
          // without `Connection: close` and then closes (Node's docs: `reusedSocket`). Nothing was answered, the
          // request is a GET (RFC 9112 §9.3.1 lets a client retry it): send it again, once, on a new
          // connection with new authentication state, as curl does, whatever --retries says.
          if (!(reused && round === 1 && closedBeforeAnswer(err))) throw err;
          reused = false;
          lane.socket = undefined;
          lane.auth?.settle();
          lane.auth = new ConnectionAuth(this.auth);
          header = await lane.auth.first(authRequest);
          res = await this.send(lane, url, headers, header, guard);
        }
        if (res.statusCode !== 407) {
          if (res.statusCode === 401) {
            // tinyproxy answers refused proxy credentials with 401: say that it may be the proxy's.
            const refused = lane.auth!.refused401(authRequest, header !== undefined);
            if (refused) {
              res.destroy();
              throw refused;
            }
          }
          lane.auth!.accepted();
          res.once('end', release);
          res.once('close', release);
          return res;
        }
        if (round >= MAX_AUTH_ROUNDS) {
          res.destroy();
          throw lane.auth!.refused();
        }
        const closes = !res.complete && (res.headers.connection ?? '').toLowerCase() === 'close';
        await drain(res);
        const sameConnection = !closes && lane.socket !== undefined && !lane.socket.destroyed;
        header = await lane.auth!.next(authRequest, res.headers['proxy-authenticate'], { sameConnection });
      }
    } catch (err) {
      lane.auth?.settle(); // a handshake cut short: let the next connection try the credentials
      release();
      throw err;
    }
  }

  private send(
    lane: Lane,
    url: URL,
    headers: Record<string, string>,
    proxyAuthorization: string | undefined,
    guard?: Watcher,
  ): Promise<IncomingMessage> {
    return new Promise((resolve, reject) => {
      const h: Record<string, string> = { ...headers, host: url.host };
      // To the proxy only: the proxy consumes Proxy-Authorization (RFC 9110 §11.7.1) and squid,
      // Apache and tinyproxy were checked not to forward it (test: the origin's header log).
      if (proxyAuthorization) h['proxy-authorization'] = proxyAuthorization;
      const req = httpRequest({
        host: this.proxy.hostname.replace(/^\[|\]$/g, ''),
        port: Number(this.proxy.port || 80),
        method: 'GET',
        // The transport has already moved userinfo into Authorization; this is the last guard.
        path: withoutUserinfo(url),
        headers: h,
        agent: lane.agent,
      });
      req.once('error', (err) => {
        reject(proxyError(this.proxy, err));
      });
      // The caller watches the request (aborts, timeouts): after the error listener, so a request
      // destroyed at once still rejects.
      guard?.watch(req);
      req.once('socket', (socket: Socket) => {
        if (socket !== lane.socket) {
          // A new connection in the middle of a request (the proxy closed the last one after a
          // 407): the lane's ConnectionAuth goes on, since it computed the header for this socket
          // knowing it was new (`sameConnection: false`), and may hold the credentials' trial.
          lane.socket = socket;
          socket.setNoDelay(true);
        }
      });
      req.once('response', resolve);
      req.end();
    });
  }

  /** A free lane, or the next one freed; an abort or timeout (the guard) while waiting rejects. */
  private acquire(guard?: Watcher): Promise<Lane> {
    // Prefer a lane whose socket is alive (and so, perhaps, already authenticated).
    const idle = this.lanes.filter((l) => !l.busy);
    const lane = idle.find((l) => l.socket && !l.socket.destroyed) ?? idle[0];
    if (lane) {
      lane.busy = true;
      return Promise.resolve(lane);
    }
    return new Promise((resolve, reject) => {
      let unwatch = (): void => {};
      const waiter = (l: Lane): void => {
        unwatch();
        resolve(l);
      };
      this.waiting.push(waiter);
      unwatch = guard?.watch({
        destroy: (err?: Error) => {
          const i = this.waiting.indexOf(waiter);
          if (i >= 0) this.waiting.splice(i, 1);
          reject(err);
        },
      }) ?? unwatch;
    });
  }

  private release(lane: Lane): void {
    const next = this.waiting.shift();
    if (next) next(lane);
    else lane.busy = false;
  }

  close(): void {
    for (const l of this.lanes) l.agent.destroy();
  }
}

/** The absolute-URI request target: never with userinfo (RFC 9110 §4.2.4; proxies log this line). */
function withoutUserinfo(url: URL): string {
  if (!url.username && !url.password) return url.toString();
  const u = new URL(url.href);
  u.username = '';
  u.password = '';
  return u.toString();
}

/**
 * What drain() reads of a body no one wants (a 404 page, a 407 page) before it gives up on the
 * connection: enough for any real error page, so the keep-alive socket is reused; a body without
 * an end (a hostile or broken server) then costs one connection, not a read that never ends.
 */
export const DRAIN_LIMIT = 64 * 1024;

/**
 * Reads a response out to its end (or its close), so its keep-alive socket goes back to the pool;
 * past `limit` bytes it destroys the response (and so its socket) instead.
 */
export function drain(res: IncomingMessage, limit = DRAIN_LIMIT): Promise<void> {
  return new Promise((resolve) => {
    // Even a body already parsed (res.complete) must be read out: only then does the Agent free the socket.
    if (res.readableEnded || res.destroyed) return resolve();
    let seen = 0;
    const onData = (chunk: Buffer): void => {
      seen += chunk.length;
      if (seen > limit) {
        res.off('data', onData);
        res.destroy();
        resolve();
      }
    };
    res.on('data', onData);
    res.once('end', () => setImmediate(resolve));
    res.once('close', resolve);
    res.once('error', () => resolve());
    res.resume();
  });
}

/** The proxy closed the socket before any byte of an answer (see proxyError's ECONNRESET). */
function closedBeforeAnswer(err: unknown): boolean {
  const code = (err instanceof SymsrvError ? (err.cause as NodeJS.ErrnoException | undefined) : undefined)?.code;
  return code === 'ECONNRESET' || code === 'EPIPE';
}

function proxyError(proxy: URL, err: unknown): unknown {
  const code = (err as NodeJS.ErrnoException)?.code;
  const where = describeProxy(proxy);
  if (isConnectFailure(err)) return unreachableProxy(proxy, err);
  // Before any answer, every byte on this socket came from the proxy: say so, not "Parse Error".
  if (code === 'HPE_HEADER_OVERFLOW') {
    return new SymsrvError('E_PROXY', `the proxy ${where}: its answer has too many bytes of headers`, { cause: err, subject: where });
  }
  if (typeof code === 'string' && code.startsWith('HPE_')) {
    return new SymsrvError('E_PROXY', `the proxy ${where}: its answer is not HTTP (${code})`, { cause: err, subject: where });
  }
  if (code === 'ECONNRESET') {
    // E_NETWORK, so it is retried: a proxy closing a kept-alive connection is usually passing.
    return new SymsrvError('E_NETWORK', `the proxy ${where} closed the connection before answering`, { cause: err, subject: where });
  }
  return err;
}
