import { SymsrvError } from '../errors.js';
import type { SchemeName } from './auth/types.js';

/** The longest delay setTimeout honours (2^31-1 ms). */
const MAX_TIMER_MS = 2 ** 31 - 1;
import type { CredentialRequest } from '../prompts/types.js';
import type { ProxyResolver } from './select/select.js';

/** Which proxy, and how to authenticate to it (the proxy issue; docs/proxy-selection.md). */
export interface ProxyOptions {
  /** `host:port` or `http://host:port` (SSRVOPT_PROXY); null or absent: the default; 'direct': none. */
  proxy?: string | null | 'direct';
  /** A PAC file: URL or path. */
  pac?: string;
  /**
   * The caller's own proxy resolution, asked before every other step (as proxy-agent's
   * getProxyForUrl): a proxy, 'direct', null (direct), candidates, or undefined (symsrv decides).
   */
  selectProxy?: ProxyResolver;
  /** Schemes allowed, preferred in this order (`--proxy-auth`); default Negotiate, NTLM, Digest, Basic. */
  proxyAuth?: readonly SchemeName[];
  /** Proxy credentials (API option). */
  proxyCredentials?: { user: string; password: string };
  /** `--proxy-user`: the password comes from SYMSRV_PROXY_PASSWORD. */
  proxyUser?: string;
  /** The environment to read proxy variables from (default process.env). */
  env?: NodeJS.ProcessEnv;
  /**
   * Asks for proxy credentials on a 407 when none were given or they were refused; undefined
   * from it means prompts are off. (The client wraps its `prompt` option and `noPrompts` switch.)
   */
  prompt?: (request: CredentialRequest) => Promise<{ user: string; password: string } | null | undefined>;
}

/**
 * Transport settings. Defaults are generous on purpose: users of other symbol tools keep hitting
 * timeouts that were sized for small files, while a PDB can be several GB behind a slow proxy.
 */
export interface TransportOptions {
  /** TCP + TLS connect timeout, ms. */
  connectTimeout?: number;
  /** Time to wait for response headers, ms. */
  headersTimeout?: number;
  /** Longest silence between two body chunks, ms (an idle timeout, not a limit on the whole body). */
  bodyTimeout?: number;
  /** Limit on one whole request including its body, ms; 0 = none. */
  totalTimeout?: number;
  /** Idle keep-alive connections are closed after this, ms. */
  keepAliveTimeout?: number;
  /** Most connections per origin. */
  connectionsPerOrigin?: number;
  /** Most redirects followed per request (Microsoft's server redirects to a CDN). */
  maxRedirects?: number;
  /** Retries after the first try, on connection errors, timeouts, 5xx and 429. */
  retries?: number;
  /** First backoff delay, ms; doubled per retry, with jitter, capped at maxBackoff. */
  backoff?: number;
  maxBackoff?: number;
  /** Extra CA certificates (PEM text) trusted besides the system ones and NODE_EXTRA_CA_CERTS. */
  ca?: string[];
  /** Overrides the User-Agent header (default `symsrv/<version>`). */
  userAgent?: string;
  /** Proxy choice and proxy authentication. */
  proxies?: ProxyOptions;
}

export type ResolvedTransportOptions = Required<Omit<TransportOptions, 'ca' | 'proxies'>> & { ca: string[] | undefined; proxies: ProxyOptions };

export const TRANSPORT_DEFAULTS = {
  connectTimeout: 30_000,
  headersTimeout: 120_000,
  bodyTimeout: 300_000,
  totalTimeout: 0,
  keepAliveTimeout: 30_000,
  connectionsPerOrigin: 8,
  maxRedirects: 10,
  retries: 3,
  backoff: 250,
  maxBackoff: 8_000,
} as const;

export function resolveTransportOptions(o: TransportOptions = {}): ResolvedTransportOptions {
  const r = { ...TRANSPORT_DEFAULTS, ...stripUndefined(o) } as ResolvedTransportOptions;
  for (const name of Object.keys(TRANSPORT_DEFAULTS) as (keyof typeof TRANSPORT_DEFAULTS)[]) {
    const v = r[name];
    // E_USAGE, not a RangeError: a library user's bad option is bad input like any other.
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) {
      throw new SymsrvError('E_USAGE', `transport option ${name} must be a number >= 0, not ${String(v)}`, { subject: name });
    }
    // Node fires a timer longer than 2^31-1 ms at once (TimeoutOverflowWarning): refuse it.
    if (name.endsWith('Timeout') && v > MAX_TIMER_MS) {
      throw new SymsrvError('E_USAGE', `transport option ${name} must be at most ${MAX_TIMER_MS} ms (about 24.8 days), not ${v}`, { subject: name });
    }
  }
  if (r.connectionsPerOrigin < 1) throw new SymsrvError('E_USAGE', 'transport option connectionsPerOrigin must be >= 1', { subject: 'connectionsPerOrigin' });
  r.ca = o.ca;
  r.userAgent = o.userAgent ?? '';
  r.proxies = o.proxies ?? {};
  return r;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
