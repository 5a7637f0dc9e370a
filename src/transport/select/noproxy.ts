import { BlockList, isIPv4, isIPv6 } from 'node:net';

/**
 * `NO_PROXY` / `no_proxy`, read the way curl reads it (lib/proxy.c `proxy_check_noproxy`, formerly
 * lib/noproxy.c; docs: CURLOPT_NOPROXY(3) and the ENVIRONMENT section of curl(1)):
 *
 * - The value `*` alone matches every host. A `*` inside a list is an ordinary (useless) entry.
 * - Entries are separated by commas; blanks around an entry are skipped. A blank that is not followed
 *   by a comma ends the list (`"a b"` is read as `a` alone: current curl, unit test 1614).
 * - A host name entry matches that host and every host under it: `example.com` and `.example.com`
 *   both match `example.com` and `www.example.com`, never `nonexample.com`. One leading and one
 *   trailing dot of the entry, and one trailing dot of the host, are ignored. Case does not matter.
 * - When the host is an IP literal, entries are compared as addresses, with an optional CIDR suffix
 *   (`192.168.0.0/16`, `fe80::/10`, curl >= 7.86). An address never matches a host name entry
 *   (`localhost` does not match `127.0.0.1`), and names are never resolved.
 * - IPv6 entries are written without brackets (`::1`, `2001:db8::/32`).
 *
 * Where curl ignores an entry because it can never match, we give it the meaning other tools
 * (Go's net/http, Python's urllib) give it, so that no entry curl honours behaves differently:
 * - `host:port`, `1.2.3.4:port`, `[::1]:port` match that host on that port only (curl: never);
 * - `[::1]` in brackets is the address `::1` (curl: never);
 * - `*.example.com` is `.example.com` (curl: never).
 *
 * Test vectors: curl's tests/unit/unit1614.c, all of them, in noproxy.test.ts.
 */
export function matchesNoProxy(url: URL, noProxy: string): boolean {
  return findNoProxyMatch(url, noProxy) !== undefined;
}

/** The `NO_PROXY` entry that matches `url` (`*` for the whole-value wildcard), or undefined. */
export function findNoProxyMatch(url: URL, noProxy: string): string | undefined {
  const host = hostOf(url);
  if (!host.name) return undefined; // curl: no host name, nothing to compare (file: URLs)
  if (noProxy === '') return undefined;
  if (noProxy.trim() === '*') return '*';
  const port = effectivePort(url);

  let i = 0;
  const n = noProxy.length;
  while (i < n) {
    while (i < n && isBlank(noProxy[i])) i++;
    const start = i;
    while (i < n && !isBlank(noProxy[i]) && noProxy[i] !== ',') i++;
    const token = noProxy.slice(start, i);
    if (token && tokenMatches(token, host, port)) return token;
    while (i < n && isBlank(noProxy[i])) i++;
    if (noProxy[i] !== ',') break; // curl: anything but a comma after an entry ends the list
    while (noProxy[i] === ',') i++;
  }
  return undefined;
}

type Host = { name: string; type: 'host' | 'ipv4' | 'ipv6' };

function hostOf(url: URL): Host {
  const hostname = url.hostname;
  if (hostname.startsWith('[') && hostname.endsWith(']')) return { name: hostname.slice(1, -1), type: 'ipv6' };
  if (isIPv4(hostname)) return { name: hostname, type: 'ipv4' };
  // curl ignores one trailing dot of the host name.
  return { name: hostname.endsWith('.') ? hostname.slice(0, -1) : hostname, type: 'host' };
}

/** The port a request to `url` goes to (the URL parser drops a default port). */
export function effectivePort(url: URL): number {
  if (url.port) return Number(url.port);
  return url.protocol === 'https:' ? 443 : 80;
}

function isBlank(c: string | undefined): boolean {
  return c === ' ' || c === '\t';
}

function tokenMatches(token: string, host: Host, port: number): boolean {
  const split = splitPort(token);
  if (split.port !== undefined && split.port !== port) return false;
  const entry = split.entry;
  if (!entry) return false;
  return host.type === 'host' ? hostMatches(entry, host.name) : ipMatches(entry, host.name, host.type);
}

/** `host:port`, `1.2.3.4:port`, `[v6]:port`, `[v6]` -> entry + port; a bare IPv6 entry has no port. */
function splitPort(token: string): { entry: string; port?: number } {
  if (token.startsWith('[')) {
    const m = /^\[([^\]]*)\](?::(\d+))?$/.exec(token);
    if (!m) return { entry: token };
    return m[2] === undefined ? { entry: m[1] ?? '' } : { entry: m[1] ?? '', port: Number(m[2]) };
  }
  const colon = token.indexOf(':');
  if (colon === -1 || colon !== token.lastIndexOf(':')) return { entry: token }; // none, or IPv6
  const portText = token.slice(colon + 1);
  if (!/^\d+$/.test(portText)) return { entry: token };
  return { entry: token.slice(0, colon), port: Number(portText) };
}

function hostMatches(entry: string, name: string): boolean {
  let e = entry;
  if (e.startsWith('*.')) e = e.slice(1); // extension: `*.example.com` = `.example.com`
  if (e.endsWith('.')) e = e.slice(0, -1);
  if (e.startsWith('.')) e = e.slice(1);
  if (!e) return false;
  const a = e.toLowerCase();
  const b = name.toLowerCase();
  if (a.length === b.length) return a === b;
  return a.length < b.length && b.endsWith(a) && b[b.length - a.length - 1] === '.';
}

function ipMatches(entry: string, address: string, type: 'ipv4' | 'ipv6'): boolean {
  const slash = entry.indexOf('/');
  let network = entry;
  let bits = 0;
  if (slash !== -1) {
    const bitsText = entry.slice(slash + 1);
    // curl: digits only, nothing after them ("/16a", "/ 16" and "/" never match).
    if (!/^\d+$/.test(bitsText)) return false;
    bits = Number(bitsText);
    network = entry.slice(0, slash);
  }
  return type === 'ipv4' ? cidr4Match(address, network, bits) : cidr6Match(address, network, bits);
}

/**
 * curl's `cidr4_match`: is `address` in `network/bits`? `bits` 0 means "the whole address" (an
 * entry without a suffix); more than 32 never matches. Exported for the unit1614 vectors.
 */
export function cidr4Match(address: string, network: string, bits: number): boolean {
  if (bits > 32 || !isIPv4(address) || !isIPv4(network)) return false;
  const list = new BlockList();
  list.addSubnet(network, bits === 0 ? 32 : bits, 'ipv4');
  return list.check(address, 'ipv4');
}

/** curl's `cidr6_match`: `bits` 0 means 128; more than 128 never matches. */
export function cidr6Match(address: string, network: string, bits: number): boolean {
  if (bits > 128 || !isIPv6(address) || !isIPv6(network)) return false;
  const list = new BlockList();
  list.addSubnet(network, bits === 0 ? 128 : bits, 'ipv6');
  return list.check(address, 'ipv6');
}
