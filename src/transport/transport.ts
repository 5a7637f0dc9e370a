import { readFileSync } from 'node:fs';
import { rootCertificates } from 'node:tls';
import type { Readable } from 'node:stream';
import { Agent, interceptors, request, type Dispatcher } from 'undici';
import { USER_AGENT } from '../version.js';
import { redactUrl, statusError, toTransportError } from './errors.js';
import { resolveTransportOptions, type ResolvedTransportOptions, type TransportOptions } from './options.js';
import { withRetry } from './retry.js';

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
  /** Extra request headers (never credentials: those belong to the proxy layer). */
  headers?: Record<string, string>;
}

/**
 * The one way symsrv talks HTTP(S). Every store, the CLI and (later) the server go through
 * `Transport.get`, so that proxy choice, proxy authentication, timeouts, redirects and TLS trust
 * are decided in one place.
 *
 * Built on undici: its Agent keeps a keep-alive pool per origin, and its redirect interceptor
 * drops Authorization/Cookie/Proxy-Authorization on a cross-origin hop. The proxy issue adds a
 * connector below the Agent (an authenticated connection is a property of the socket, so it
 * belongs under the pool, not in a per-request interceptor).
 */
export class Transport {
  readonly options: ResolvedTransportOptions;
  private readonly dispatcher: Dispatcher;
  private readonly agent: Agent;

  constructor(options: TransportOptions = {}) {
    this.options = resolveTransportOptions(options);
    const o = this.options;
    this.agent = new Agent({
      connectTimeout: o.connectTimeout,
      headersTimeout: o.headersTimeout,
      bodyTimeout: o.bodyTimeout,
      keepAliveTimeout: o.keepAliveTimeout,
      connections: o.connectionsPerOrigin,
      connect: trustOptions(o.ca),
    });
    this.dispatcher = this.agent.compose(interceptors.redirect({ maxRedirections: o.maxRedirects }));
  }

  /** Sends one GET. Network failures and timeouts become SymsrvErrors naming the URL; any status is returned. */
  async get(url: string, options: GetOptions = {}): Promise<HttpResponse> {
    const signal = combineSignals(options.signal, this.options.totalTimeout);
    const headers = { 'user-agent': this.options.userAgent || USER_AGENT, ...options.headers };
    try {
      const res = await request(url, { dispatcher: this.dispatcher, method: 'GET', headers, signal });
      const history = (res.context as { history?: URL[] } | undefined)?.history;
      const finalUrl = history && history.length > 0 ? history[history.length - 1]!.toString() : url;
      const len = res.headers['content-length'];
      const contentLength = typeof len === 'string' && /^\d+$/.test(len) ? Number(len) : undefined;
      const body = res.body as unknown as Readable;
      return {
        url: finalUrl,
        status: res.statusCode,
        headers: res.headers,
        contentLength,
        body,
        discard: async () => {
          try {
            await res.body.dump();
          } catch {
            // The connection is discarded anyway; nothing to report.
          }
        },
      };
    } catch (err) {
      throw toTransportError(err, url, signal);
    }
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
          throw statusError(res.status, '', res.url);
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
            throw Object.assign(statusError(res.status, `(answer larger than ${limit} bytes)`, res.url), { retryable: false });
          }
          throw toTransportError(err, url, signal);
        }
        return Buffer.concat(chunks).toString('utf8');
      },
      this.options,
      signal,
    );
  }

  async close(): Promise<void> {
    await this.agent.close();
  }
}

/** Keeps the system CA store (and NODE_EXTRA_CA_CERTS) when extra CAs are given: `ca` replaces the defaults in Node. */
function trustOptions(extra: string[] | undefined): { ca?: string[] } {
  if (!extra || extra.length === 0) return {};
  const ca = [...rootCertificates];
  const envFile = process.env.NODE_EXTRA_CA_CERTS;
  if (envFile) {
    try {
      ca.push(readFileSync(envFile, 'utf8'));
    } catch {
      // Node itself warns about an unreadable NODE_EXTRA_CA_CERTS at start-up.
    }
  }
  return { ca: [...ca, ...extra] };
}

function combineSignals(signal: AbortSignal | undefined, totalTimeout: number): AbortSignal | undefined {
  if (totalTimeout <= 0) return signal;
  const timeout = AbortSignal.timeout(totalTimeout);
  return signal ? AbortSignal.any([signal, timeout]) : timeout;
}

export { redactUrl };
