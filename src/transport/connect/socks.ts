import { Agent as HttpAgent, type AgentOptions, type RequestOptions } from 'node:http';
import { lookup } from 'node:dns/promises';
import { isIP, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { SocksClient, SocksClientError } from 'socks';
import { SymsrvError } from '../../errors.js';
import { MAX_AUTH_ROUNDS } from '../auth/connection-auth.js';
import type { ProxyAuth } from '../auth/proxy-auth.js';
import { describeProxy, proxyPort } from '../select/select.js';
import { withTimeout } from '../timeout.js';
import { dial, type TunnelOptions } from './tunnel.js';
import { connectPooled, TunnelAgent } from './tunnel-agent.js';

/**
 * SOCKS5 proxies (RFC 1928) with username/password authentication (RFC 1929), for `socks5://`
 * (target names resolved here) and `socks5h://` (resolved by the proxy) proxy URLs.
 *
 * The protocol itself is the npm `socks` package's (the client socks-proxy-agent uses); around it
 * this module does what the transport needs and the package does not: the TCP connection to the
 * proxy is ours (tunnel.ts `dial`, so an unreachable proxy is the same "cannot reach the proxy"
 * error that lets a PAC answer's next candidate be tried), credentials come from the proxy's
 * ProxyAuth (the same sources as for HTTP proxies; one connection at a time tries unproven ones;
 * refused ones are never sent again), and each outcome becomes a SymsrvError naming the proxy.
 *
 * Two agents use it, so SOCKS goes through the same keep-alive pools as everything else:
 * SocksHttpsAgent (TLS to the origin over the SOCKS connection) and SocksHttpAgent (plain HTTP).
 */

/** What a person reads for the method: for prompts and messages. */
const METHOD = 'SOCKS5 username/password';
/** RFC 1929 §2: ULEN and PLEN are one byte each; RFC 1928 §5: a domain name has a one-byte length. */
const MAX_FIELD = 255;

export async function openSocks(proxy: URL, host: string, port: number, auth: ProxyAuth, options: TunnelOptions): Promise<Socket> {
  const where = describeProxy(proxy);
  const target = await destination(proxy, host, options);
  for (let round = 1; ; round++) {
    try {
      return await attempt(proxy, target, port, auth, options);
    } catch (err) {
      // A person may give (other) credentials at the prompt; then a new connection tries them.
      const asked = err instanceof SymsrvError && (err.code === 'E_PROXY_AUTH_REQUIRED' || (err.code === 'E_PROXY_AUTH' && !err.final));
      if (!asked || round >= MAX_AUTH_ROUNDS || !(await auth.ask([METHOD], undefined, err.code === 'E_PROXY_AUTH'))) throw err;
      if (options.signal?.aborted) throw new SymsrvError('E_ABORTED', `the proxy ${where}: aborted`, { subject: where });
    }
  }
}

/** The name or address the proxy is asked to connect to: socks5h sends the name, socks5 resolves it here. */
async function destination(proxy: URL, host: string, options: TunnelOptions): Promise<string> {
  if (isIP(host) || proxy.protocol === 'socks5h:') {
    if (Buffer.byteLength(host) > MAX_FIELD) {
      throw new SymsrvError('E_USAGE', `the host name ${host.slice(0, 64)}… is longer than SOCKS5 allows (${MAX_FIELD} bytes)`, { subject: host.slice(0, 64) });
    }
    return host;
  }
  const where = describeProxy(proxy);
  try {
    const found = await withTimeout(lookup(host), options.connectTimeout, () =>
      new SymsrvError('E_TIMEOUT', `cannot resolve ${host} (${options.connectTimeout / 1000} s) for the SOCKS5 proxy ${where}`, { subject: host }),
    );
    return found.address;
  } catch (err) {
    if (err instanceof SymsrvError) throw err;
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    // socks5:// means "resolve here": say so, since the proxy might have resolved it.
    throw new SymsrvError('E_NETWORK', `cannot resolve ${host} (${code}) for the SOCKS5 proxy ${where}; with socks5h:// the proxy resolves names itself`, {
      cause: err,
      subject: host,
      retryable: code === 'EAI_AGAIN',
    });
  }
}

/** One connection and handshake, with the current credentials. */
async function attempt(proxy: URL, target: string, port: number, auth: ProxyAuth, options: TunnelOptions): Promise<Socket> {
  const where = describeProxy(proxy);
  // Credentials the proxy refused are never sent again (account lockout: see ProxyAuth.refuse).
  const refused = auth.refused;
  if (refused) throw refused;
  const creds = auth.credentials;
  const trial = {}; // this connection, as ProxyAuth's turns know it
  if (creds) {
    // RFC 1929 has one byte for each length: a longer field cannot be sent, and must not be cut.
    if (Buffer.byteLength(creds.typed) > MAX_FIELD || Buffer.byteLength(creds.password) > MAX_FIELD) {
      throw new SymsrvError('E_PROXY_AUTH', `the user name or password for the SOCKS5 proxy ${where} is longer than ${MAX_FIELD} bytes, which RFC 1929 cannot carry`, {
        subject: where,
        final: true,
      });
    }
    // Unproven credentials are tried by one connection at a time (see ProxyAuth.trial).
    await auth.trial(trial);
    const refusedMeanwhile = auth.refused;
    if (refusedMeanwhile) throw refusedMeanwhile;
  }
  let socket: Socket | undefined;
  let outcome: 'accepted' | 'refused' | 'other' = 'other';
  try {
    socket = await dial(proxy, options);
    const open = socket;
    const onAbort = (): void => {
      open.destroy();
    };
    options.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      // Security: RFC 1929 sends the user name and password in clear to the SOCKS proxy (as
      // Basic does to an HTTP proxy), and only to it: they travel in the sub-negotiation before
      // the proxy connects anywhere, and the origin only ever sees the bytes of the request.
      const established = SocksClient.createConnection({
        proxy: {
          host: proxy.hostname.replace(/^\[|\]$/g, ''),
          port: proxyPort(proxy),
          type: 5,
          ...(creds ? { userId: creds.typed, password: creds.password } : {}),
        },
        destination: { host: target, port },
        command: 'connect',
        existing_socket: open,
        // The package's own timer (never cleared, unref'd) backs ours up; ours below fires first.
        timeout: options.answerTimeout + 1000,
      });
      const info = await withTimeout(established, options.answerTimeout, () => {
        open.destroy();
        return new SymsrvError('E_TIMEOUT', `the SOCKS5 proxy ${where} did not finish its handshake for ${target}:${port} (${options.answerTimeout / 1000} s)`, {
          subject: where,
        });
      });
      outcome = 'accepted';
      return info.socket;
    } finally {
      options.signal?.removeEventListener('abort', onAbort);
    }
  } catch (err) {
    socket?.destroy();
    if (err instanceof SymsrvError) throw err;
    if (options.signal?.aborted) throw new SymsrvError('E_ABORTED', `the proxy ${where}: aborted`, { subject: where });
    const error = socksError(proxy, target, port, auth, err);
    if (error.code === 'E_PROXY_AUTH' && creds && !error.final) {
      outcome = 'refused';
      auth.refuse(trial, error);
    }
    throw error;
  } finally {
    if (outcome === 'accepted') auth.acceptedBySocks(trial);
    else if (outcome !== 'refused') auth.settle(trial);
  }
}

/** The package's error (a message from its ERRORS table, or the socket's) as a SymsrvError naming the proxy. */
function socksError(proxy: URL, target: string, port: number, auth: ProxyAuth, err: unknown): SymsrvError {
  const where = describeProxy(proxy);
  const message = err instanceof Error ? err.message : String(err);
  const creds = auth.credentials;
  if (err instanceof SocksClientError) {
    if (message === 'Socks5 Authentication failed') {
      return new SymsrvError('E_PROXY_AUTH', `proxy authentication failed for ${creds?.typed ?? '(no user)'} at ${where} (${METHOD})`, { subject: where });
    }
    if (message.startsWith('Received invalid Socks5 initial handshake (no accepted authentication type)')) {
      if (!creds) {
        return new SymsrvError(
          'E_PROXY_AUTH_REQUIRED',
          `the SOCKS5 proxy ${where} requires authentication (${METHOD}). Give credentials with the proxyUser option with the password in SYMSRV_PROXY_PASSWORD (or proxyCredentials), or set SYMSRV_PROXY_USER and SYMSRV_PROXY_PASSWORD, or put them in the proxy URL (socks5h://user:password@host:port)`,
          { subject: where },
        );
      }
      return new SymsrvError('E_PROXY_AUTH', `the SOCKS5 proxy ${where} accepts none of the methods symsrv offers (none, ${METHOD})`, { subject: where, final: true });
    }
    if (message.startsWith('Socks5 proxy rejected connection')) {
      // RFC 1928 §6 reply codes, by the package's names (HostUnreachable, ConnectionRefused...).
      const reason = message.slice(message.indexOf(' - ') + 3) || 'refused';
      return new SymsrvError('E_PROXY', `the SOCKS5 proxy ${where} could not connect to ${target}:${port}: ${reason}`, { subject: where });
    }
    if (message === 'Socket closed') {
      // Retried (E_NETWORK): a proxy dropping a connection is usually passing.
      return new SymsrvError('E_NETWORK', `the SOCKS5 proxy ${where} closed the connection during the handshake`, { cause: err, subject: where });
    }
    if (message.startsWith('Received invalid Socks5')) {
      return new SymsrvError('E_PROXY', `the proxy ${where}: its answer is not SOCKS5 (an HTTP proxy? then give it as http://host:port)`, { cause: err, subject: where });
    }
  }
  return new SymsrvError('E_NETWORK', `the SOCKS5 proxy ${where}: ${message}`, { cause: err, subject: where });
}

/** HTTPS through a SOCKS5 proxy: TLS to the origin over the SOCKS connection, kept alive in the pool. */
export class SocksHttpsAgent extends TunnelAgent {
  protected override open(host: string, port: number, signal: AbortSignal): Promise<Socket> {
    return openSocks(this.proxy, host, port, this.auth, { ...this.timeouts, signal });
  }
}

/** Plain HTTP through a SOCKS5 proxy: origin-form requests over SOCKS connections, kept alive in the pool. */
export class SocksHttpAgent extends HttpAgent {
  constructor(
    private readonly proxy: URL,
    private readonly auth: ProxyAuth,
    private readonly timeouts: { connectTimeout: number; answerTimeout: number },
    options: AgentOptions,
  ) {
    super(options);
  }

  override createConnection(requested: RequestOptions, callback?: (err: Error | null, stream: Duplex) => void): Duplex | undefined {
    return connectPooled(
      this,
      requested,
      80,
      (host, port, signal) => openSocks(this.proxy, host, port, this.auth, { ...this.timeouts, signal }),
      (socket) => socket,
      callback,
    );
  }
}
