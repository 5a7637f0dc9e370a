import type { Agent as HttpAgent } from 'node:http';
import type { AgentOptions } from 'node:https';
import type { ProxyAuth } from '../auth/proxy-auth.js';
import { isSocksProxy } from '../select/select.js';
import { ForwardPool, type ForwardOptions } from './forward.js';
import { SocksHttpAgent, SocksHttpsAgent } from './socks.js';
import { TunnelAgent } from './tunnel-agent.js';

/**
 * Everything kept for one proxy: its authentication state, and the ways through it, each built on
 * first use: CONNECT tunnels (https origins) and plain-HTTP lanes (http origins; a ForwardPool
 * holds one agent per lane); for a SOCKS5 proxy, TLS over SOCKS and a keep-alive pool of plain
 * SOCKS connections (connect/socks.ts). A PAC answer can name many proxies, and a run that only
 * fetches from https origins never needs lanes: building both for every proxy named once cost
 * 1.4 GB for 40 000 candidates (issue 14 defect 7). Together with the cap on candidates, a proxy
 * that is never used costs nothing, and one that is used costs only the half it uses.
 */
export class ProxyRoute {
  private tunnelAgent: TunnelAgent | undefined;
  private forwardPool: ForwardPool | undefined;
  private plainAgent: HttpAgent | undefined;
  readonly socks: boolean;

  constructor(
    readonly proxy: URL,
    readonly auth: ProxyAuth,
    private readonly tunnelOptions: { timeouts: { connectTimeout: number; answerTimeout: number }; agent: () => AgentOptions; plain: AgentOptions },
    private readonly forwardOptions: ForwardOptions,
  ) {
    this.socks = isSocksProxy(proxy);
  }

  /** The agent for https origins: CONNECT tunnels, or TLS over SOCKS5. */
  get tunnels(): TunnelAgent {
    this.tunnelAgent ??= new (this.socks ? SocksHttpsAgent : TunnelAgent)(this.proxy, this.auth, this.tunnelOptions.timeouts, this.tunnelOptions.agent());
    return this.tunnelAgent;
  }

  /** Plain-HTTP lanes through an HTTP proxy (absolute-URI requests). */
  get forward(): ForwardPool {
    this.forwardPool ??= new ForwardPool(this.proxy, this.auth, this.forwardOptions);
    return this.forwardPool;
  }

  /** Plain HTTP over SOCKS5 connections; undefined for an HTTP proxy (it uses `forward`). */
  get plain(): HttpAgent | undefined {
    if (!this.socks) return undefined;
    this.plainAgent ??= new SocksHttpAgent(this.proxy, this.auth, this.tunnelOptions.timeouts, this.tunnelOptions.plain);
    return this.plainAgent;
  }

  close(): void {
    this.tunnelAgent?.destroy();
    this.forwardPool?.close();
    this.plainAgent?.destroy();
  }
}
