import type { AgentOptions } from 'node:https';
import type { ProxyAuth } from '../auth/proxy-auth.js';
import { ForwardPool, type ForwardOptions } from './forward.js';
import { TunnelAgent } from './tunnel-agent.js';

/**
 * Everything kept for one proxy: its authentication state, and the two ways through it, each
 * built on first use: CONNECT tunnels (https origins) and plain-HTTP lanes (http origins; a
 * ForwardPool holds one agent per lane). A PAC answer can name many proxies, and a run that only
 * fetches from https origins never needs lanes: building both for every proxy named once cost
 * 1.4 GB for 40 000 candidates (issue 14 defect 7). Together with the cap on candidates, a proxy
 * that is never used costs nothing, and one that is used costs only the half it uses.
 */
export class ProxyRoute {
  private tunnelAgent: TunnelAgent | undefined;
  private forwardPool: ForwardPool | undefined;

  constructor(
    readonly proxy: URL,
    readonly auth: ProxyAuth,
    private readonly tunnelOptions: { timeouts: { connectTimeout: number; answerTimeout: number }; agent: AgentOptions },
    private readonly forwardOptions: ForwardOptions,
  ) {}

  get tunnels(): TunnelAgent {
    this.tunnelAgent ??= new TunnelAgent(this.proxy, this.auth, this.tunnelOptions.timeouts, this.tunnelOptions.agent);
    return this.tunnelAgent;
  }

  get forward(): ForwardPool {
    this.forwardPool ??= new ForwardPool(this.proxy, this.auth, this.forwardOptions);
    return this.forwardPool;
  }

  close(): void {
    this.tunnelAgent?.destroy();
    this.forwardPool?.close();
  }
}
