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
  /** An HTTP proxy: `PROXY host[:port]` or `HTTP host[:port]`; `server` is `host[:port]`. */
  | { kind: 'proxy'; server: string; text: string }
  /** Something we cannot use (SOCKS, HTTPS proxies, unknown words), with the reason. */
  | { kind: 'skipped'; text: string; reason: string };

/**
 * Splits a PAC answer on `;` into entries (MDN "Proxy Auto-Configuration (PAC) file", return value
 * format). Keywords are case-insensitive; `PROXY` and `HTTP` name an HTTP proxy; `HTTPS`,
 * `SOCKS`, `SOCKS4`, `SOCKS5` and anything else are skipped with a reason. An empty answer is
 * DIRECT. When nothing usable is left the caller falls back to DIRECT, as Chromium does with an
 * answer it cannot parse (net/base/proxy_list.cc, `SetFromPacString`).
 */
export function parsePacResult(result: string): PacEntry[] {
  const entries: PacEntry[] = [];
  for (const part of result.split(';')) {
    const text = part.trim();
    if (!text) continue;
    const [word = '', server, ...rest] = text.split(/\s+/);
    const keyword = word.toUpperCase();
    if (keyword === 'DIRECT' && server === undefined) {
      entries.push({ kind: 'direct' });
    } else if ((keyword === 'PROXY' || keyword === 'HTTP') && server !== undefined && rest.length === 0) {
      if (server.includes('@') || server.includes('/')) entries.push({ kind: 'skipped', text, reason: 'not a host:port' });
      else entries.push({ kind: 'proxy', server, text });
    } else if (keyword === 'HTTPS') {
      entries.push({ kind: 'skipped', text, reason: 'HTTPS proxies (TLS to the proxy) are not supported yet' });
    } else if (keyword === 'SOCKS' || keyword === 'SOCKS4' || keyword === 'SOCKS5') {
      entries.push({ kind: 'skipped', text, reason: 'SOCKS proxies are not supported' });
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
