import type { Agent as HttpAgent, RequestOptions } from 'node:http';
import { Agent as HttpsAgent, type AgentOptions } from 'node:https';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import type { ProxyAuth } from '../auth/proxy-auth.js';
import { openTunnel } from './tunnel.js';
import { ConnectionAuth } from '../auth/connection-auth.js';

/**
 * An HTTPS agent whose connections are CONNECT tunnels through an authenticating proxy. Each
 * new connection opens and authenticates its tunnel (tunnel.ts), then speaks TLS to the origin
 * inside it; keep-alive then reuses the tunnel for every later request to that origin, so a
 * connection-based scheme (NTLM, Negotiate) costs one handshake per connection, not per file.
 * A subclass changes how the raw connection is opened (`open`: a SOCKS5 proxy, socks.ts).
 */
export class TunnelAgent extends HttpsAgent {
  constructor(
    protected readonly proxy: URL,
    protected readonly auth: ProxyAuth,
    protected readonly timeouts: { connectTimeout: number; answerTimeout: number },
    options: AgentOptions,
  ) {
    super(options);
  }

  /** A raw connection to host:port through the proxy, before TLS. */
  protected open(host: string, port: number, signal: AbortSignal): Promise<Socket> {
    return openTunnel(this.proxy, host, port, new ConnectionAuth(this.auth), { ...this.timeouts, signal });
  }

  override createConnection(requested: RequestOptions, callback?: (err: Error | null, stream: Duplex) => void): Duplex | undefined {
    const options = requested as ConnectionOptions & { host?: string; port?: number };
    return connectPooled(this, requested, 443, (h, p, signal) => this.open(h, p, signal), (socket, host) =>
      // TLS to the origin inside the tunnel: the proxy sees only ciphertext from here on.
      tlsConnect({ ...options, socket, servername: options.servername || (isIp(host) ? undefined : host) } as ConnectionOptions),
      callback,
    );
  }
}

/**
 * The body of an Agent's `createConnection` for a connection opened asynchronously through a
 * proxy (a CONNECT tunnel, a SOCKS5 connection): opens it with `open`, wraps it (TLS, or nothing)
 * and hands it to the agent's callback. Returns undefined (the agent waits for the callback).
 */
export function connectPooled(
  agent: HttpAgent,
  requested: RequestOptions,
  defaultPort: number,
  open: (host: string, port: number, signal: AbortSignal) => Promise<Socket>,
  wrap: (socket: Socket, host: string) => Duplex,
  callback?: (err: Error | null, stream: Duplex) => void,
): undefined {
  const host = (requested.host ?? 'localhost').replace(/^\[|\]$/g, '');
  const port = Number(requested.port ?? defaultPort);
  // Node's Agent counts a connection only once it exists, so while a tunnel is being set up
  // (asynchronously, here) it would start more than maxSockets. A placeholder in the agent's
  // own list makes the pending tunnel count; it is removed before the real socket is added.
  const name = (requested as { _agentKey?: string })._agentKey;
  const sockets = agent.sockets as Record<string, unknown[]>;
  const list = name !== undefined ? (sockets[name] ??= []) : undefined;
  // agent.destroy() (Transport.close) calls destroy() on every entry: for the placeholder that
  // stops the tunnel being set up.
  const stop = new AbortController();
  const placeholder = { destroy: () => stop.abort() } as never;
  list?.push(placeholder);
  const unhold = (): void => {
    const i = list ? list.indexOf(placeholder) : -1;
    if (i >= 0) list!.splice(i, 1);
  };
  open(host, port, stop.signal).then(
    (socket) => {
      unhold();
      callback?.(null, wrap(socket, host));
    },
    (err: Error) => {
      callback?.(err, undefined as unknown as Duplex);
      // removeSocket, not a bare splice: Node's Agent starts a connection for a request queued
      // behind this one only when a socket is removed, so with the pool full that request would
      // otherwise wait for its own timeout (seen: a SOCKS handshake timing out at maxSockets 1).
      (agent as unknown as { removeSocket(s: unknown, o: RequestOptions): void }).removeSocket(placeholder, requested);
    },
  );
  return undefined;
}

function isIp(host: string): boolean {
  return /^[\d.]+$/.test(host) || host.includes(':');
}
