import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { messageOf, SymsrvError } from '../../errors.js';
import { maskUserinfo } from '../../redact.js';
import { PacScript, type PacScriptOptions } from './pac.js';

/**
 * PAC files as files: reading one (a path, a `file:` URL, or an `http(s)://` URL through the
 * caller's downloader), the URL a script is shown, and what its answer means. The sandbox that
 * runs the script is pac.ts.
 */

/** One element of a PAC answer, in order. */
export type PacEntry =
  | { kind: 'direct' }
  /**
   * A proxy: `PROXY host[:port]` or `HTTP host[:port]` (scheme `http`), `SOCKS5 host[:port]` or
   * `SOCKS host[:port]` (scheme `socks5h`); `server` is `host[:port]`.
   */
  | { kind: 'proxy'; scheme: 'http' | 'socks5h'; server: string; text: string }
  /** Something we cannot use (SOCKS4, HTTPS proxies, unknown words), with the reason. */
  | { kind: 'skipped'; text: string; reason: string };

/**
 * Splits a PAC answer on `;` into entries (MDN "Proxy Auto-Configuration (PAC) file", return value
 * format). Keywords are case-insensitive; `PROXY` and `HTTP` name an HTTP proxy, `SOCKS5` and
 * `SOCKS` a SOCKS5 proxy; `HTTPS`, `SOCKS4` and anything else are skipped with a reason. An empty
 * answer is DIRECT. When nothing usable is left the caller fails (it never goes DIRECT on its own:
 * the PAC file asked for a proxy, and going around it bypasses the network's policy).
 *
 * `SOCKS` is read as SOCKS5, as Firefox reads it (Chromium reads SOCKS4): SOCKS4 has no password
 * authentication, and a SOCKS5 server that also speaks SOCKS4 (dante does) takes either. Both are
 * used with DNS at the proxy (`socks5h`), as Chromium and Firefox do for PAC answers: the script
 * chose the proxy for a host name, which may resolve only behind it.
 */
const PROXY_KEYWORDS: Record<string, 'http' | 'socks5h' | undefined> = { PROXY: 'http', HTTP: 'http', SOCKS5: 'socks5h', SOCKS: 'socks5h' };

export function parsePacResult(result: string): PacEntry[] {
  const entries: PacEntry[] = [];
  for (const part of result.split(';')) {
    const text = part.trim();
    if (!text) continue;
    const [word = '', server, ...rest] = text.split(/\s+/);
    const keyword = word.toUpperCase();
    if (keyword === 'DIRECT' && server === undefined) {
      entries.push({ kind: 'direct' });
    } else if (PROXY_KEYWORDS[keyword] && server !== undefined && rest.length === 0) {
      if (server.includes('@') || server.includes('/')) entries.push({ kind: 'skipped', text, reason: 'not a host:port' });
      else entries.push({ kind: 'proxy', scheme: PROXY_KEYWORDS[keyword], server, text });
    } else if (keyword === 'HTTPS') {
      entries.push({ kind: 'skipped', text, reason: 'HTTPS proxies (TLS to the proxy) are not supported yet' });
    } else if (keyword === 'SOCKS4') {
      entries.push({ kind: 'skipped', text, reason: 'SOCKS4 proxies are not supported (no password authentication); SOCKS5 is' });
    } else {
      entries.push({ kind: 'skipped', text, reason: 'not a PAC proxy entry' });
    }
  }
  if (entries.length === 0) entries.push({ kind: 'direct' });
  return entries;
}

/**
 * The text of the PAC file `pac`: an `http(s)://` URL (downloaded with `fetchText`, which the
 * caller provides so that this module does not depend on the transport), a `file:` URL, or a path.
 */
export async function readPacText(pac: string, fetchText?: (url: string) => Promise<string>): Promise<string> {
  const name = maskUserinfo(pac);
  const scheme = /^file:/i.test(pac) ? 'file' : /^([a-z][a-z0-9+.-]+):\/\//i.exec(pac)?.[1]?.toLowerCase();
  let text: string;
  if (scheme === 'http' || scheme === 'https') {
    if (!fetchText) {
      throw new SymsrvError('E_USAGE', `the PAC file ${name} is a URL, and no fetchText function was given to download it`, { subject: name });
    }
    try {
      text = await fetchText(pac);
    } catch (err) {
      throw new SymsrvError('E_PROXY', `cannot download the PAC file ${name}: ${messageOf(err)}`, { cause: err, subject: name });
    }
    if (typeof text !== 'string') throw new TypeError(`fetchText(${name}) did not return a string`);
  } else if (scheme === undefined || scheme === 'file') {
    try {
      text = await readFile(scheme === 'file' ? fileURLToPath(pac) : pac, 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? messageOf(err);
      throw new SymsrvError('E_IO', `cannot read the PAC file ${name}: ${code}`, { cause: err, subject: name });
    }
  } else {
    throw new SymsrvError('E_USAGE', `the PAC file ${name} must be an http://, https:// or file: URL, or a path`, { subject: name });
  }
  return text.replace(/^\uFEFF/, '');
}

/** Loads and compiles the PAC file `pac` (see readPacText and PacScript.create). */
export async function loadPacScript(
  pac: string,
  options: PacScriptOptions & { fetchText?: ((url: string) => Promise<string>) | undefined } = {},
): Promise<PacScript> {
  const text = await readPacText(pac, options.fetchText);
  return PacScript.create(text, { ...options, name: options.name ?? maskUserinfo(pac) });
}
