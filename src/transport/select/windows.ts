import { execFile } from 'node:child_process';
import { isIPv4 } from 'node:net';
import { join } from 'node:path';
import { effectivePort } from './noproxy.js';

/**
 * The proxy settings of "Internet Options > Connections > LAN settings", as stored under
 * `HKCU\Software\Microsoft\Windows\CurrentVersion\Internet Settings`. SymSrv uses this proxy when
 * `_NT_SYMBOL_PROXY` is not set ("Symbol Server and Internet Firewalls", Win32 Debug docs).
 *
 * Everything here but `readInternetSettings` is pure and tested on `reg query` text, on any OS.
 */
export interface InternetSettings {
  /** `ProxyEnable` (REG_DWORD): the "Use a proxy server" box. */
  proxyEnable: boolean;
  /** `ProxyServer` (REG_SZ): `host:port` for every scheme, or `http=a:1;https=b:2;socks=c:3`. */
  proxyServer?: string;
  /** `ProxyOverride` (REG_SZ): `;`-separated bypass list, `<local>` = names without a dot. */
  proxyOverride?: string;
  /** `AutoConfigURL` (REG_SZ): the "Use automatic configuration script" address (a PAC file). */
  autoConfigURL?: string;
}

export const INTERNET_SETTINGS_KEY = 'HKCU\\Software\\Microsoft\\Windows\\CurrentVersion\\Internet Settings';

/**
 * Reads the values of the first key in `reg query <key>` output. Each value line is four spaces,
 * the name, four spaces, the type, four spaces and the data (empty data may lose its separator);
 * lines of sub-keys (`HKEY_...`) and of further keys are ignored. Names are case-insensitive, as in
 * the registry.
 */
export function parseRegQueryOutput(text: string): InternetSettings {
  const values = new Map<string, { type: string; data: string }>();
  let keysSeen = 0;
  for (const line of text.split(/\r?\n/)) {
    if (/^HKEY_/i.test(line)) {
      keysSeen++;
      continue;
    }
    if (keysSeen > 1) break; // values of a sub-key (`reg query /s`): not ours
    const m = /^ {4}(.+?) {4}(REG_[A-Z0-9_]+)(?: {4}(.*))?$/.exec(line);
    if (!m || !m[1] || !m[2]) continue;
    values.set(m[1].toLowerCase(), { type: m[2], data: (m[3] ?? '').trim() });
  }
  const str = (name: string): string | undefined => {
    const v = values.get(name);
    if (!v || (v.type !== 'REG_SZ' && v.type !== 'REG_EXPAND_SZ') || v.data === '') return undefined;
    return v.data;
  };
  const enable = values.get('proxyenable');
  const settings: InternetSettings = {
    proxyEnable: enable !== undefined && enable.type === 'REG_DWORD' && parseDword(enable.data) !== 0,
  };
  const proxyServer = str('proxyserver');
  const proxyOverride = str('proxyoverride');
  const autoConfigURL = str('autoconfigurl');
  if (proxyServer !== undefined) settings.proxyServer = proxyServer;
  if (proxyOverride !== undefined) settings.proxyOverride = proxyOverride;
  if (autoConfigURL !== undefined) settings.autoConfigURL = autoConfigURL;
  return settings;
}

function parseDword(data: string): number {
  const n = /^0x[0-9a-f]+$/i.test(data) ? Number.parseInt(data.slice(2), 16) : Number(data);
  return Number.isFinite(n) ? n : 0;
}

/** One entry of a `ProxyServer` value: `[scheme=][scheme://]host[:port]` (WINHTTP_PROXY_INFO). */
export interface ProxyServerEntry {
  /** `http`, `https`, `ftp`, `socks`, ... lower case; undefined for an entry that serves every scheme. */
  scheme: string | undefined;
  /** The server as written, e.g. `proxy:8080` or `http://proxy:8080`. */
  server: string;
}

/** Splits a `ProxyServer` value; entries are separated by `;` or white space. */
export function parseProxyServer(value: string): ProxyServerEntry[] {
  const entries: ProxyServerEntry[] = [];
  for (const part of value.split(/[;\s]+/)) {
    if (!part) continue;
    const m = /^([a-z][a-z0-9+.-]*)=(.*)$/i.exec(part);
    if (m && m[1] !== undefined && m[2] !== undefined) {
      if (m[2]) entries.push({ scheme: m[1].toLowerCase(), server: m[2] });
    } else {
      entries.push({ scheme: undefined, server: part });
    }
  }
  return entries;
}

/**
 * What the manual settings say for `url`: `proxy` is the server as written in `ProxyServer`
 * (`host:port`, an HTTP proxy), null for a direct connection. Undefined when the manual proxy is
 * off, so the caller goes on to its next step. `AutoConfigURL` is not looked at here (the caller
 * runs the PAC file first, as WinINet does).
 *
 * - `ProxyOverride` and the implicit loopback bypass (`localhost`, 127.0.0.0/8, `[::1]`; turned off
 *   by `<-loopback>`) send the request direct, as WinINet does.
 * - The entry for the URL's scheme wins; else an entry without a scheme; else direct (an
 *   `http=...`-only list does not proxy https URLs).
 * - A `socks=` entry serves URLs that no other entry serves, as in WinINet. WinINet speaks SOCKS4
 *   to it; symsrv speaks SOCKS5 only (SOCKS4 cannot carry a password nor a host name), so the entry
 *   becomes `socks5h://host:port`, as a PAC file's `SOCKS host:port` does (pac-choices.ts). Most
 *   SOCKS servers speak both; one that speaks only SOCKS4 fails the handshake with an error that
 *   names the proxy. Ignoring the entry instead would go direct, which on such networks fails
 *   with a less useful error, or leaks past the company's proxy.
 */
export function proxyFromInternetSettings(settings: InternetSettings, url: URL): { proxy: string | null; detail: string } | undefined {
  if (!settings.proxyEnable || !settings.proxyServer) return undefined;
  const scheme = url.protocol.replace(/:$/, '');
  const host = url.hostname;
  const override = settings.proxyOverride ?? '';
  const bypass = matchProxyOverride(url, override);
  if (bypass !== undefined) {
    return { proxy: null, detail: `Windows Internet Settings: ProxyOverride entry '${bypass}' matches ${host}: connecting directly` };
  }
  if (isLoopback(url) && !/(^|[;\s])<-loopback>($|[;\s])/i.test(override)) {
    return { proxy: null, detail: `Windows Internet Settings: ${host} is a loopback address, which never goes through the proxy (as in WinINet): connecting directly` };
  }
  const entries = parseProxyServer(settings.proxyServer);
  const chosen = entries.find((e) => e.scheme === scheme) ?? entries.find((e) => e.scheme === undefined);
  const socks = entries.find((e) => e.scheme === 'socks');
  if (!chosen && socks) {
    return {
      proxy: `socks5h://${socks.server}`,
      detail: `Windows Internet Settings: ProxyServer's socks= entry for ${scheme} URLs (spoken to as SOCKS5, names resolved by the proxy; WinINet would speak SOCKS4)`,
    };
  }
  if (!chosen) {
    return {
      proxy: null,
      detail: `Windows Internet Settings: ProxyServer has no entry for ${scheme} URLs: connecting directly`,
    };
  }
  const which = chosen.scheme === undefined ? 'for all schemes' : `for ${scheme} URLs`;
  return { proxy: chosen.server, detail: `Windows Internet Settings: ProxyServer ${which}` };
}

/**
 * The `ProxyOverride` entry that matches `url`, or undefined. Entries are separated by `;` or white
 * space; `*` is a wildcard; an entry may start with `scheme://` and end with `:port`, which then must
 * match too. `<local>` matches host names without a dot (IP literals excluded).
 */
export function matchProxyOverride(url: URL, override: string): string | undefined {
  const scheme = url.protocol.replace(/:$/, '').toLowerCase();
  const host = url.hostname.toLowerCase();
  const port = effectivePort(url);
  for (const entry of override.split(/[;\s]+/)) {
    if (!entry) continue;
    const lower = entry.toLowerCase();
    if (lower === '<local>') {
      if (!host.includes('.') && !host.startsWith('[')) return entry;
      continue;
    }
    if (lower.startsWith('<')) continue; // <-loopback> and the like: not host patterns
    let pattern = lower;
    const schemeMatch = /^([a-z][a-z0-9+.-]*):\/\//.exec(pattern);
    if (schemeMatch) {
      if (schemeMatch[1] !== scheme) continue;
      pattern = pattern.slice(schemeMatch[0].length);
    }
    const portMatch = /^(.*?[^:]):(\d+)$/.exec(pattern);
    if (portMatch && portMatch[1] !== undefined && (portMatch[1].startsWith('[') || !portMatch[1].includes(':'))) {
      if (Number(portMatch[2]) !== port) continue;
      pattern = portMatch[1];
    }
    if (globMatch(pattern, host)) return entry;
  }
  return undefined;
}

function globMatch(pattern: string, text: string): boolean {
  const re = new RegExp(`^${pattern.split('*').map(escapeRegExp).join('.*')}$`);
  return re.test(text);
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function isLoopback(url: URL): boolean {
  const host = url.hostname.toLowerCase();
  if (host === 'localhost' || host.endsWith('.localhost') || host === '[::1]') return true;
  return isIPv4(host) && host.startsWith('127.');
}

/**
 * Runs `reg query` on the Internet Settings key (Windows only). reg.exe is taken from System32, not
 * from PATH, so that a `reg.exe` in the current folder cannot answer. Any failure gives undefined:
 * no settings, the next step decides.
 */
export function readInternetSettings(timeoutMs = 5_000): Promise<InternetSettings | undefined> {
  if (process.platform !== 'win32') return Promise.resolve(undefined);
  const reg = join(process.env['SystemRoot'] ?? 'C:\\Windows', 'System32', 'reg.exe');
  return new Promise((resolve) => {
    execFile(reg, ['query', INTERNET_SETTINGS_KEY], { timeout: timeoutMs, windowsHide: true, encoding: 'utf8' }, (err, stdout) => {
      if (err) resolve(undefined);
      else resolve(parseRegQueryOutput(stdout));
    });
  });
}
