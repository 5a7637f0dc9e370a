import { SymsrvError } from '../../errors.js';
import { maskUserinfo } from '../../redact.js';

/** Proxies as the user and the system settings write them: parsing, and printing without credentials. */

/**
 * Parses a proxy given by the user: `host:port`, `[v6]:port`, `http://host[:port]`,
 * `http://user:pw@host:port`, `socks5://[user:pw@]host:port`, `socks5h://...`. `https://` (TLS to
 * the proxy) and SOCKS4 (`socks://`, `socks4://`, `socks4a://`) are refused with a message saying
 * so. Without a scheme the port is required (tools disagree on its default: curl 1080, others 80);
 * with `http://` it defaults to 80. E_USAGE on anything else.
 */
export function parseProxyOption(text: string): URL {
  return parseProxy(text, 'proxy');
}

/** `http://host:port` of a proxy, never its credentials; `DIRECT` for null. */
export function describeProxy(url: URL | null): string {
  if (url === null) return 'DIRECT';
  return `${url.protocol}//${url.hostname}:${proxyPort(url)}`;
}

/**
 * Whether a proxy URL names a SOCKS5 proxy (`socks5:` resolves target names here, `socks5h:` at
 * the proxy): how every selection step (option, environment, PAC, desktop settings) hands a SOCKS
 * proxy to the transport, which routes it to connect/socks.ts.
 */
export function isSocksProxy(url: URL | null): boolean {
  return url !== null && (url.protocol === 'socks5:' || url.protocol === 'socks5h:');
}

function isSocksScheme(scheme: string): boolean {
  return scheme === 'socks5' || scheme === 'socks5h';
}

/** The proxy's port: the URL's, else the scheme's default (SOCKS 1080, RFC 1928 §3; HTTP 80). */
export function proxyPort(url: URL): number {
  if (url.port) return Number(url.port);
  return isSocksProxy(url) ? 1080 : url.protocol === 'https:' ? 443 : 80;
}

/** System lists (PAC, ProxyServer) name HTTP proxies as `host[:port]`, port 80 by default. */
export function withHttpScheme(server: string): string {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(server) ? server : `http://${server}`;
}

export function parseProxy(text: string, where: string): URL {
  const raw = text.trim();
  const shown = maskUserinfo(raw);
  const usage = (why: string): SymsrvError => new SymsrvError('E_USAGE', `${where} '${shown}': ${why}`, { subject: where });
  if (!raw) throw new SymsrvError('E_USAGE', `${where} is empty: give host:port or http://host:port`, { subject: where });

  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(raw)?.[1]?.toLowerCase();
  if (scheme === 'https') {
    throw usage(
      'https:// proxies (TLS to the proxy itself) are not supported yet; give the proxy as http://host:port ' +
        '(requests to https:// servers still go through it encrypted, in a CONNECT tunnel)',
    );
  }
  if (scheme !== undefined && scheme.startsWith('socks') && !isSocksScheme(scheme)) {
    // curl reads socks:// as SOCKS4, which has no password authentication and, without the 4a
    // extension, no host names: refused rather than guessed.
    throw usage(`${scheme}:// (SOCKS4) proxies are not supported; give a SOCKS5 proxy as socks5://host:port (local DNS) or socks5h://host:port (DNS at the proxy)`);
  }
  if (scheme !== undefined && scheme !== 'http' && !isSocksScheme(scheme)) {
    throw usage(`${scheme}:// proxies are not supported; give an HTTP proxy as http://host:port or a SOCKS5 proxy as socks5h://host:port`);
  }
  if (scheme === undefined && /^direct$/i.test(raw)) throw usage(`'direct' is not a proxy here; to connect directly pass proxy 'direct' (CLI --no-proxy)`);

  const withScheme = scheme === undefined ? `http://${raw}` : raw;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw usage('not a proxy: give host:port or http://host:port');
  }
  if (!url.hostname) throw usage('no host name: give host:port or http://host:port');
  // DNS names have at most 253 characters; a longer one (a hostile PAC answer) would only bloat messages.
  if (url.hostname.length > 255) throw usage('the host name is longer than 255 characters');
  // WHATWG URL parsing leaves the path of a non-special scheme (socks5:) empty, not '/'.
  if ((url.pathname !== '/' && url.pathname !== '') || url.search || url.hash) {
    throw usage('a proxy is host:port, without a path (a PAC file goes in the pac option)');
  }
  if (!decodable(url.username) || !decodable(url.password)) {
    // Checked here, so a URIError never escapes later from the credentials (credentials.ts).
    throw usage('its user name or password has a bad %-escape (write % itself as %25)');
  }
  if (url.port === '0') throw usage('port 0 is not a port');
  if (scheme === undefined && !hasPort(withScheme)) {
    throw usage('no port: write host:port (there is no standard proxy port: curl assumes 1080, most tools 80)');
  }
  return url;
}

/** Whether the authority of `http://...` names a port (the URL parser drops `:80`). */
function hasPort(urlText: string): boolean {
  const authority = urlText.slice(urlText.indexOf('://') + 3).split(/[/?#]/, 1)[0] ?? '';
  const hostPort = authority.slice(authority.lastIndexOf('@') + 1);
  return hostPort.startsWith('[') ? /\]:\d+$/.test(hostPort) : /:\d+$/.test(hostPort);
}

function decodable(text: string): boolean {
  try {
    decodeURIComponent(text);
    return true;
  } catch {
    return false;
  }
}
