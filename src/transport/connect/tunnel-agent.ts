import type { RequestOptions } from 'node:http';
import { Agent as HttpsAgent, type AgentOptions } from 'node:https';
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
 */
export class TunnelAgent extends HttpsAgent {
  constructor(
    private readonly proxy: URL,
    private readonly auth: ProxyAuth,
    private readonly timeouts: { connectTimeout: number; answerTimeout: number },
    options: AgentOptions,
  ) {
    super(options);
  }

  override createConnection(requested: RequestOptions, callback?: (err: Error | null, stream: Duplex) => void): Duplex | undefined {
    const options = requested as ConnectionOptions & { host?: string; port?: number };
    const host = (options.host ?? 'localhost').replace(/^\[|\]$/g, '');
    const port = Number(options.port ?? 443);
    // Node's Agent counts a connection only once it exists, so while a tunnel is being set up
    // (asynchronously, here) it would start more than maxSockets. A placeholder in the agent's
    // own list makes the pending tunnel count; it is removed before the real socket is added.
    const name = (requested as { _agentKey?: string })._agentKey;
    const sockets = this.sockets as Record<string, unknown[]>;
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
    openTunnel(this.proxy, host, port, new ConnectionAuth(this.auth), { ...this.timeouts, signal: stop.signal }).then(
      (socket) => {
        unhold();
        // TLS to the origin inside the tunnel: the proxy sees only ciphertext from here on.
        const tls = tlsConnect({ ...options, socket, servername: options.servername || (isIp(host) ? undefined : host) } as ConnectionOptions);
        callback?.(null, tls);
      },
      (err: Error) => {
        unhold();
        callback?.(err, undefined as unknown as Duplex);
      },
    );
    return undefined;
  }
}

function isIp(host: string): boolean {
  return /^[\d.]+$/.test(host) || host.includes(':');
}
