import { connect as netConnect, type Socket } from 'node:net';
import { SymsrvError } from '../../errors.js';
import { MAX_AUTH_ROUNDS, type ConnectionAuth } from '../auth/connection-auth.js';
import { describeProxy, proxyPort } from '../select/select.js';
import { unreachableProxy } from './unreachable.js';
import { withTimeout } from '../timeout.js';
import { ProxyProtocolError, readResponseHead, skipBody } from './response-head.js';

export interface TunnelOptions {
  connectTimeout: number;
  /**
   * Longest wait for the proxy's answer to one CONNECT. Without it a proxy that accepts the
   * connection and never answers would hold the tunnel's place in the agent's pool for good.
   */
  answerTimeout: number;
  signal?: AbortSignal | undefined;
}

/**
 * Opens a `CONNECT host:port` tunnel through an HTTP proxy and authenticates it: the whole
 * handshake happens here, on the raw socket, before TLS. NTLM and Negotiate authenticate the
 * connection, so every round of their handshake is sent on the same socket; the socket that
 * comes back is authenticated for good and carries any number of HTTPS requests.
 *
 * Security: the Proxy-Authorization header is written on the proxy socket before the tunnel
 * exists; nothing is written after a refusal (the socket is destroyed), and once the tunnel is up
 * only TLS to the origin flows, so no proxy credential can reach the origin (as
 * https-proxy-agent does after a refused CONNECT).
 */
export async function openTunnel(proxy: URL, host: string, port: number, auth: ConnectionAuth, options: TunnelOptions): Promise<Socket> {
  const target = `${host.includes(':') ? `[${host}]` : host}:${port}`;
  const where = describeProxy(proxy);
  const request = { method: 'CONNECT', uri: target };
  let socket = await dial(proxy, options);
  const onAbort = (): void => {
    socket.destroy();
  };
  /** A timeout's error, after the socket it waited on is closed. */
  const stop = (err: SymsrvError): SymsrvError => {
    socket.destroy();
    return err;
  };
  options.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    let header = await auth.first(request);
    for (let round = 1; ; round++) {
      const lines = [`CONNECT ${target} HTTP/1.1`, `Host: ${target}`, 'Proxy-Connection: Keep-Alive'];
      // To the proxy only: this socket carries nothing else until the tunnel is up.
      if (header) lines.push(`Proxy-Authorization: ${header}`);
      socket.write(lines.join('\r\n') + '\r\n\r\n');
      const head = await withTimeout(readResponseHead(socket), options.answerTimeout, () =>
        stop(new SymsrvError('E_TIMEOUT', `the proxy ${where} did not answer CONNECT ${target} (${options.answerTimeout / 1000} s)`, { subject: where })),
      );
      if (head.statusCode >= 200 && head.statusCode < 300) {
        options.signal?.removeEventListener('abort', onAbort);
        auth.accepted();
        return socket;
      }
      if (head.statusCode !== 407) {
        // tinyproxy answers a refused Proxy-Authorization with 401: on a CONNECT that can only be the proxy.
        if (head.statusCode === 401) throw auth.refused401(request, header !== undefined)!;
        throw new SymsrvError('E_PROXY', `the proxy ${where} refused CONNECT ${target}: ${head.statusCode} ${head.statusText}`.trimEnd(), {
          subject: where,
        });
      }
      if (round >= MAX_AUTH_ROUNDS) throw auth.refused();
      const reusable =
        !head.closes &&
        (await withTimeout(skipBody(socket, head), options.answerTimeout, () =>
          stop(new SymsrvError('E_TIMEOUT', `the proxy ${where} did not finish its answer to CONNECT ${target} (${options.answerTimeout / 1000} s)`, { subject: where })),
        ));
      header = await auth.next(request, head.headers['proxy-authenticate'], { sameConnection: reusable });
      // Basic and Digest answers are not bound to a connection: they go on a new one. mitmproxy 8
      // neither answers nor closes a connection after its 407 to a CONNECT (curl --proxy-anyauth
      // hangs there too); a new connection costs one TCP handshake. NTLM and Negotiate must stay.
      if (!reusable || !/^(NTLM|Negotiate) /i.test(header)) {
        socket.destroy();
        socket = await dial(proxy, options);
      }
    }
  } catch (err) {
    options.signal?.removeEventListener('abort', onAbort);
    auth.settle(); // a handshake cut short: let the next connection try the credentials
    socket.destroy();
    if (err instanceof ProxyProtocolError) {
      throw new SymsrvError(err.transient ? 'E_NETWORK' : 'E_PROXY', `the proxy ${where}: ${err.message}`, { cause: err, subject: where });
    }
    if (err instanceof SymsrvError) throw err;
    throw new SymsrvError('E_PROXY', `the proxy ${where}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, {
      cause: err,
      subject: where,
    });
  }
}

/** A TCP connection to the proxy itself, bounded by connectTimeout; "cannot reach the proxy" (unreachable.ts) when refused. */
export function dial(proxy: URL, options: TunnelOptions): Promise<Socket> {
  const where = describeProxy(proxy);
  return new Promise((resolve, reject) => {
    const socket = netConnect({ host: proxy.hostname.replace(/^\[|\]$/g, ''), port: proxyPort(proxy) });
    socket.setNoDelay(true);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new SymsrvError('E_TIMEOUT', `the proxy ${where}: timed out connecting (${options.connectTimeout / 1000} s)`, { subject: where }));
    }, options.connectTimeout);
    const onAbort = (): void => {
      socket.destroy();
      reject(new SymsrvError('E_ABORTED', `the proxy ${where}: aborted`, { subject: where }));
    };
    options.signal?.addEventListener('abort', onAbort, { once: true });
    socket.once('connect', () => {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      resolve(socket);
    });
    socket.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      reject(unreachableProxy(proxy, err));
    });
  });
}
