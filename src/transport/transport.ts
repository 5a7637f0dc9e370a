import { Agent as HttpAgent, request as httpRequest, type ClientRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { Socket } from 'node:net';
import type { SecureContext } from 'node:tls';
import type { Readable } from 'node:stream';
import { SymsrvError } from '../errors.js';
import { USER_AGENT } from '../version.js';
import { isNotTls, redactUrl, statusError, toTransportError } from './errors.js';
import { maskUserinfo } from '../redact.js';
import { RequestGuard } from './guard.js';
import { trustedContext } from './trust.js';
import { resolveTransportOptions, type ResolvedTransportOptions, type TransportOptions } from './options.js';
import { withRetry } from './retry.js';
import { resolveCredentials } from './auth/credentials.js';
import { drain, DRAIN_LIMIT } from './connect/forward.js';
import { ProxyRoute } from './connect/route.js';
import { headersForHop, takeUserinfo } from './origin-credentials.js';
import { ProxyAuth } from './auth/proxy-auth.js';
import { describeProxy, ProxySelector, type ProxyChoice } from './select/select.js';
import { isUnreachableProxy } from './connect/unreachable.js';

export interface HttpResponse {
  /** The URL that answered, after redirects. */
  readonly url: string;
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  /** Content-Length when the server sent one. */
  readonly contentLength: number | undefined;
  /** The body; read it to the end or call `discard()`, so the connection goes back to the pool. */
  readonly body: Readable;
  discard(): Promise<void>;
}

export interface GetOptions {
  signal?: AbortSignal;
  /** Told which proxy (or none) each request goes through, and why: for `--verbose` and `!sym noisy`. */
  onProxy?: (choice: ProxyChoice, url: string) => void;
  /** Extra request headers (never credentials: those belong to the proxy layer). */
  headers?: Record<string, string>;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/**
 * The one way symsrv talks HTTP(S). Every store, the CLI and (later) the server go through
 * `Transport.get`, so that proxy choice, proxy authentication, timeouts, redirects and TLS trust
 * are decided in one place.
 *
 * Built on Node's own http/https modules with a keep-alive Agent per scheme (a pool per origin).
 * Why not undici: undici 7 (the last line that runs on Node 20) kills the process with an
 * uncatchable `assert(!this.paused)` when a server closes the connection after a response
 * (HTTP/1.0, `Connection: close`: python's http.server, tinyproxy) while the body is held back by
 * backpressure (nodejs/undici#5360, fixed only in undici 8, which needs Node 22); `npm run demo`
 * hit it one run in three. Node's Agent also gives the per-socket control that connection-based
 * proxy authentication (NTLM, Negotiate) needs: the proxy issue plugs a connector in here.
 */
export class Transport {
  readonly options: ResolvedTransportOptions;
  private readonly httpAgent: HttpAgent;
  private httpsAgentBuilt: HttpsAgent | undefined;
  /** Trusted CAs (trust.ts), built on the first TLS connection: 46 ms of CPU with --cacert, for nothing on an HTTP-only run. */
  private trustBuilt: { secureContext?: SecureContext } | undefined;
  private readonly pool: { keepAlive: true; maxSockets: number; timeout: number; scheduling: 'lifo' };
  private readonly selector: ProxySelector;
  private readonly choices = new Map<string, Promise<ProxyChoice[]>>();
  /** One route per proxy used: its authentication state, its tunnels, its plain-HTTP lanes (each built when first used). */
  private readonly routes = new Map<string, ProxyRoute>();

  constructor(options: TransportOptions = {}) {
    this.options = resolveTransportOptions(options);
    const o = this.options;
    this.pool = { keepAlive: true, maxSockets: o.connectionsPerOrigin, timeout: o.keepAliveTimeout, scheduling: 'lifo' as const };
    this.httpAgent = new HttpAgent(this.pool);
    const p = o.proxies;
    this.selector = new ProxySelector({
      ...(p.proxy !== undefined ? { proxy: p.proxy } : {}),
      ...(p.pac !== undefined ? { pac: p.pac } : {}),
      ...(p.selectProxy ? { selectProxy: p.selectProxy } : {}),
      ...(p.env !== undefined ? { env: p.env } : {}),
      // A PAC file on a web server is fetched directly (never through the proxy it chooses).
      fetchText: (url: string) => fetchPac(url, options),
    });
  }

  private get trust(): { secureContext?: SecureContext } {
    if (!this.trustBuilt) {
      const secureContext = trustedContext(this.options.ca);
      this.trustBuilt = secureContext ? { secureContext } : {};
    }
    return this.trustBuilt;
  }

  private get httpsAgent(): HttpsAgent {
    return (this.httpsAgentBuilt ??= new HttpsAgent({ ...this.pool, ...this.trust }));
  }

  /** The authentication scheme the proxy last accepted from us (`NTLM`...), if any: for `!sym noisy`. */
  proxyScheme(proxy: URL): string | undefined {
    return this.routes.get(proxy.href)?.auth.describe();
  }

  /** Which proxies a URL would go through, best first, with the reason: for `symsrv path` and `--verbose`. */
  chooseProxy(url: string): Promise<ProxyChoice[]> {
    let target: URL;
    try {
      target = parseRequestUrl(url);
    } catch (err) {
      return Promise.reject(err); // E_USAGE naming the URL, not a TypeError
    }
    return this.selector.choose(target);
  }

  private route(proxy: URL): ProxyRoute {
    const key = proxy.href;
    let r = this.routes.get(key);
    if (!r) {
      const o = this.options;
      const p = o.proxies;
      const auth = new ProxyAuth(proxy, {
        ...(p.proxyAuth ? { allowed: p.proxyAuth } : {}),
        ...(p.prompt ? { prompt: p.prompt } : {}),
        credentials: resolveCredentials(proxy, {
          ...(p.proxyCredentials ? { credentials: p.proxyCredentials } : {}),
          ...(p.proxyUser ? { user: p.proxyUser } : {}),
          ...(p.env ? { env: p.env } : {}),
        }),
      });
      const pool = { keepAlive: true, maxSockets: o.connectionsPerOrigin, timeout: o.keepAliveTimeout, scheduling: 'lifo' as const };
      r = new ProxyRoute(
        proxy,
        auth,
        { timeouts: { connectTimeout: o.connectTimeout, answerTimeout: o.headersTimeout }, agent: () => ({ ...pool, ...this.trust }), plain: pool },
        { lanes: o.connectionsPerOrigin, keepAliveTimeout: o.keepAliveTimeout },
      );
      this.routes.set(key, r);
    }
    return r;
  }

  /**
   * Sends one GET and follows redirects. Network failures and timeouts become SymsrvErrors
   * naming the URL; any final status is returned for the caller to judge.
   */
  async get(url: string, options: GetOptions = {}): Promise<HttpResponse> {
    // One guard for every hop and the body: the caller's signal and the total timeout end it all.
    const guard = new RequestGuard(url, options.signal, this.options.totalTimeout);
    const headers = { 'user-agent': this.options.userAgent || USER_AGENT, ...options.headers };
    let current = url;
    try {
      // The store URL's userinfo leaves the URL here: it goes only as Authorization to its own
      // origin (origin-credentials.ts), never into a request line, a message or another origin.
      const creds = takeUserinfo(parseRequestUrl(url));
      let target = creds.url; // parsed once per hop: redirects hand on their own URL
      current = target.toString();
      for (let hop = 0; ; hop++) {
        const res = await this.send(target, current, headersForHop(target, creds, headers), guard, options.onProxy);
        const location = res.headers.location;
        if (!REDIRECTS.has(res.statusCode ?? 0) || typeof location !== 'string') return this.wrap(res, current, guard);
        res.resume();
        if (hop >= this.options.maxRedirects) {
          throw new SymsrvError('E_HTTP_STATUS', `GET ${redactUrl(url)}: more than ${this.options.maxRedirects} redirects (a loop?)`, {
            subject: redactUrl(url),
            retryable: false,
            ...(res.statusCode !== undefined ? { status: res.statusCode } : {}),
          });
        }
        const next = redirectTarget(location, target, current);
        if (next.protocol !== 'http:' && next.protocol !== 'https:') {
          throw new SymsrvError('E_HTTP_STATUS', `GET ${redactUrl(current)}: redirect to a ${next.protocol} URL`, { subject: redactUrl(current), retryable: false });
        }
        if (target.protocol === 'https:' && next.protocol === 'http:') {
          // Refused, not followed: the https:// store promised a file no one on the path could
          // change, and a symbol file is checked only by its GUID and age, never by a hash, so an
          // http:// hop would let anyone on the path substitute it (issue 14 #15).
          badRedirect(redactUrl(current), `refused a redirect from https:// to http:// (${redactUrl(next.toString())}): the file would travel unprotected`);
        }
        // headersForHop drops the store's Authorization once a redirect leaves its origin (the
        // proxy layer keeps Proxy-Authorization on the proxy hop only).
        current = next.toString();
        target = next;
      }
    } catch (err) {
      guard.dispose();
      throw err;
    }
  }

  /**
   * One request, through the proxy the selector picks (trying a PAC file's next candidate when
   * a proxy cannot be reached), or directly.
   */
  private async send(
    u: URL,
    url: string,
    headers: Record<string, string>,
    guard: RequestGuard,
    onProxy?: (choice: ProxyChoice, url: string) => void,
  ): Promise<IncomingMessage> {
    // One choice per origin and session: what the selector looks at (the options, the
    // environment, a PAC answer per host) does not change between requests.
    let pending = this.choices.get(u.origin);
    if (!pending) {
      pending = this.selector.choose(u);
      pending.catch(() => this.choices.delete(u.origin));
      this.choices.set(u.origin, pending);
    }
    const choices = await pending;
    for (let i = 0; ; i++) {
      const choice = choices[i]!;
      onProxy?.(choice, url);
      try {
        return await this.sendVia(choice.url, u, url, headers, guard);
      } catch (err) {
        if (!isUnreachableProxy(err) || i + 1 >= choices.length) throw err;
      }
    }
  }

  private sendVia(proxy: URL | null, u: URL, url: string, headers: Record<string, string>, guard: RequestGuard): Promise<IncomingMessage> {
    const o = this.options;
    const https = u.protocol === 'https:';
    const timeout = (what: string, ms: number) => (): SymsrvError =>
      new SymsrvError('E_TIMEOUT', `GET ${redactUrl(url)}: timed out ${what} (${ms / 1000} s)`, { subject: redactUrl(url) });
    const stopHeadersTimer = guard.timer(o.headersTimeout, timeout('waiting for the response headers', o.headersTimeout));
    const done = (res: IncomingMessage): IncomingMessage => {
      stopHeadersTimer();
      return res;
    };
    const failed = (err: unknown): never => {
      stopHeadersTimer();
      if (proxy && https && isNotTls(err)) {
        // The proxy said 200 to CONNECT, then sent something of its own (a block page): its
        // garbage, not the server's certificate.
        const where = describeProxy(proxy);
        throw new SymsrvError('E_PROXY', `the proxy ${where} accepted CONNECT ${u.hostname}:${u.port || 443}, then sent bytes that are not TLS (${(err as NodeJS.ErrnoException).code}): it answered in the server's place (a block page?)`, {
          cause: err,
          subject: where,
          retryable: false,
        });
      }
      throw toTransportError(err, url, guard);
    };

    const route = proxy ? this.route(proxy) : undefined;
    if (proxy && !https && !route?.plain) {
      // Plain HTTP through the proxy: absolute-URI requests on authenticated lanes.
      return route!
        .forward.request(u, headers, guard)
        .then(done, failed);
    }
    const agent = route ? (https ? route.tunnels : route.plain!) : https ? this.httpsAgent : this.httpAgent;
    return new Promise<IncomingMessage>((resolve, reject) => {
      let req: ClientRequest;
      try {
        req = (https ? httpsRequest : httpRequest)(u, { agent, headers, method: 'GET' });
      } catch (err) {
        reject(err);
        return;
      }
      req.once('error', reject);
      // A request still queued for a pooled connection emits nothing when destroyed (Node emits
      // the error only once it gets a socket), so an abort or a timeout also rejects here.
      guard.watch({
        destroy: (err?: Error) => {
          req.destroy(err);
          reject(err);
        },
      });
      req.once('socket', (socket: Socket) => {
        // A reused keep-alive socket is already connected; only a new direct one gets the
        // connect timer (a tunnel has its own, in tunnel.ts).
        if (proxy || !socket.connecting) return;
        const stop = guard.timer(o.connectTimeout, timeout('connecting', o.connectTimeout));
        socket.once(https ? 'secureConnect' : 'connect', stop);
        socket.once('close', stop);
      });
      req.once('response', (res) => {
        req.off('error', reject);
        // Errors after this point surface on the body stream (res), where the reader sees them.
        req.on('error', (err) => res.destroy(toTransportError(err, url, guard)));
        resolve(res);
      });
      req.end();
    }).then(done, failed);
  }

  private wrap(res: IncomingMessage, url: string, guard: RequestGuard): HttpResponse {
    const o = this.options;
    // The guard (caller's signal, total timeout) ends the body too; its work is over when the body is.
    guard.watch(res);
    res.once('close', () => guard.dispose());
    // Idle-body timeout: silence longer than bodyTimeout between two chunks ends the download.
    // The Agent resets the socket's timeout when the socket goes back to the pool.
    const socket = res.socket;
    const onIdle = (): void => {
      res.destroy(new SymsrvError('E_TIMEOUT', `GET ${redactUrl(url)}: timed out waiting for data (${o.bodyTimeout / 1000} s)`, { subject: redactUrl(url) }));
    };
    socket.setTimeout(o.bodyTimeout);
    socket.on('timeout', onIdle);
    const done = (): void => {
      socket.off('timeout', onIdle);
    };
    res.once('end', done);
    res.once('close', done);
    const body = res as Readable;
    const len = res.headers['content-length'];
    const contentLength = typeof len === 'string' && /^\d+$/.test(len) ? Number(len) : undefined;
    return {
      url,
      status: res.statusCode ?? 0,
      headers: res.headers,
      contentLength,
      body,
      discard: async () => {
        // A small remainder is drained so the socket can be reused (a body already parsed must
        // still be read out: regression, repeated 404s starved the pool); a large one is cut, and
        // drain() cuts a body without Content-Length past DRAIN_LIMIT (regression: an endless
        // 404 body was read forever, whatever the timeouts).
        if (contentLength !== undefined && contentLength > DRAIN_LIMIT && !res.readableEnded) {
          res.destroy();
          return;
        }
        await drain(res);
      },
    };
  }

  /**
   * GETs a small text (a `file.ptr`, `index2.txt` probe) with retries: returns undefined on 404,
   * the text on 2xx, and throws on anything else. `limit` bounds what is read into memory.
   */
  async getText(url: string, limit: number, signal?: AbortSignal): Promise<string | undefined> {
    return withRetry(
      async () => {
        const res = await this.get(url, signal ? { signal } : {});
        if (res.status === 404 || res.status === 410) {
          await res.discard();
          return undefined;
        }
        if (res.status < 200 || res.status >= 300) {
          await res.discard();
          throw statusError(res.status, '', res.url, { headers: res.headers });
        }
        const chunks: Buffer[] = [];
        let size = 0;
        try {
          for await (const chunk of res.body) {
            size += (chunk as Buffer).length;
            if (size > limit) {
              res.body.destroy();
              throw new RangeError(`more than ${limit} bytes`);
            }
            chunks.push(chunk as Buffer);
          }
        } catch (err) {
          if (err instanceof RangeError) {
            throw statusError(res.status, `(answer larger than ${limit} bytes)`, res.url, { retryable: false });
          }
          throw toTransportError(err, url, signal);
        }
        return Buffer.concat(chunks).toString('utf8');
      },
      this.options,
      signal,
    );
  }

  /** getText on a throw-away transport, closed afterwards (PAC downloads). */
  async getTextAndClose(url: string): Promise<string | undefined> {
    try {
      return await this.getText(url, 1024 * 1024);
    } finally {
      await this.close();
    }
  }

  async close(): Promise<void> {
    this.httpAgent.destroy();
    this.httpsAgentBuilt?.destroy();
    for (const r of this.routes.values()) r.close();
    this.routes.clear();
    this.selector.close();
  }
}

/**
 * Where a redirect leads. A Location no URL parser accepts (`http://[::1`, a port of 99999) is
 * the server's bad answer: that request's error (so the next store is tried), not a TypeError
 * that ends the run.
 */
function redirectTarget(location: string, base: URL, current: string): URL {
  try {
    return new URL(location, base);
  } catch {
    const where = redactUrl(current);
    return badRedirect(where, `a redirect to a bad Location (${JSON.stringify(maskUserinfo(location.slice(0, 200)))})`);
  }
}

function badRedirect(where: string, what: string): never {
  throw new SymsrvError('E_HTTP_STATUS', `GET ${where}: ${what}`, { subject: where, retryable: false });
}

/** An http(s) URL to request, or E_USAGE naming it (without its userinfo). */
function parseRequestUrl(url: string): URL {
  try {
    const u = new URL(url);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new TypeError(`unsupported protocol ${u.protocol}`);
    return u;
  } catch (err) {
    throw new SymsrvError('E_USAGE', `bad URL ${redactUrl(url)}: ${(err as Error).message}`, { cause: err });
  }
}

/** Downloads a PAC file directly (never through the proxy it chooses); a missing one is an error. */
export async function fetchPac(url: string, options: TransportOptions = {}): Promise<string> {
  const text = await new Transport({ ...options, proxies: { proxy: 'direct' } }).getTextAndClose(url);
  if (text === undefined) throw new SymsrvError('E_PROXY', `the PAC file ${redactUrl(url)} was not found (404)`, { subject: redactUrl(url) });
  return text;
}

export { redactUrl, describeProxy };
