import { isSymsrvError, SymsrvError } from '../../errors.js';
import { findNoProxyMatch } from './noproxy.js';
import { pacRequestUrl, type PacScript } from './pac.js';
import { loadPacScript, parsePacResult } from './pac-file.js';
import { maskUserinfo } from '../../redact.js';
import { proxyFromInternetSettings, readInternetSettings, type InternetSettings } from './windows.js';

/**
 * Which proxy a request to a URL goes through, and why. First match wins (docs/proxy-selection.md):
 *
 *  1. the `proxy` option: `host:port`, `http://[user:pw@]host:port`, or `'direct'` (CLI `--no-proxy`);
 *     `null` or absent means "the default", as SymSrv's `SSRVOPT_PROXY` with NULL data;
 *  2. the `pac` option: a PAC file (URL or path), whose answer can list several candidates;
 *  3. `_NT_SYMBOL_PROXY=host:port`, SymSrv's own variable;
 *  4. `https_proxy`/`HTTPS_PROXY` (https URLs), `http_proxy` (http URLs; never upper-case
 *     `HTTP_PROXY`), then `all_proxy`/`ALL_PROXY`, lower case first, minus `no_proxy`/`NO_PROXY`:
 *     all read as curl reads them;
 *  5. on Windows, the Internet Settings: the AutoConfigURL PAC file, else the manual proxy with
 *     its ProxyOverride list;
 *  6. direct.
 *
 * Each answer records where it came from and a sentence saying why (as vscode-proxy-agent records
 * `env`/`setting`/`system`), for `symsrv path` and `--verbose`. A sentence never holds a password:
 * proxies are printed with describeProxy, raw values through redaction.
 */
export type ProxySource =
  | 'option'
  | '_NT_SYMBOL_PROXY'
  | 'env:HTTPS_PROXY'
  | 'env:https_proxy'
  | 'env:HTTP_PROXY'
  | 'env:http_proxy'
  | 'env:ALL_PROXY'
  | 'env:all_proxy'
  | 'windows'
  | 'pac'
  | 'no_proxy'
  | 'direct';

export type ProxyChoice = {
  /** The HTTP proxy to use, userinfo included (the auth layer's lowest-priority credentials); null = direct. */
  url: URL | null;
  source: ProxySource;
  /** Why, in one sentence, without credentials. */
  detail: string;
};

export interface ProxySettings {
  /** `host:port`, `http://host:port`, `http://user:pw@host:port`, `'direct'`; null/absent = the default. */
  proxy?: string | null | 'direct';
  /** A PAC file: `http(s)://` URL (downloaded with fetchText), `file:` URL or path. */
  pac?: string;
  /** Defaults to process.env. */
  env?: NodeJS.ProcessEnv;
  /** Defaults to process.platform; the Windows Internet Settings are read on 'win32' only. */
  platform?: NodeJS.Platform;
  /** Downloads a PAC file (the option's, or Windows' AutoConfigURL). Without it a PAC URL cannot be used. */
  fetchText?: (url: string) => Promise<string>;
  /** Defaults to `reg query` of HKCU\...\Internet Settings (windows.ts). */
  readWindowsSettings?: () => Promise<InternetSettings | undefined>;
  /** Receives the PAC script's alert() messages. */
  onPacAlert?: (message: string) => void;
}

/**
 * Parses a proxy given by the user: `host:port`, `[v6]:port`, `http://host[:port]`,
 * `http://user:pw@host:port`. Only HTTP proxies: `https://` (TLS to the proxy) and `socks*://`
 * are refused with a message saying so. Without a scheme the port is required (tools disagree on
 * its default: curl 1080, others 80); with `http://` it defaults to 80. E_USAGE on anything else.
 */
export function parseProxyOption(text: string): URL {
  return parseProxy(text, 'proxy');
}

/** `http://host:port` of a proxy, never its credentials; `DIRECT` for null. */
export function describeProxy(url: URL | null): string {
  if (url === null) return 'DIRECT';
  const port = url.port || (url.protocol === 'https:' ? '443' : '80');
  return `${url.protocol}//${url.hostname}:${port}`;
}

/** The ordered candidates for one request (PAC can give several, every other step one). */
export async function selectProxies(target: URL, settings: ProxySettings): Promise<ProxyChoice[]> {
  const selector = new ProxySelector(settings);
  try {
    return await selector.choose(target);
  } finally {
    selector.close();
  }
}

const HTTPS_VARS = ['https_proxy', 'HTTPS_PROXY', 'all_proxy', 'ALL_PROXY'] as const;
// Upper-case HTTP_PROXY is never read: in a CGI environment it is set from the request's `Proxy:`
// header ("httpoxy", CVE-2016-5385 and siblings), so a client could pick our proxy. curl reads
// only the lower-case http_proxy for this reason (lib/proxy.c); we follow curl.
const HTTP_VARS = ['http_proxy', 'all_proxy', 'ALL_PROXY'] as const;

/**
 * Chooses proxies for many requests: the `proxy` option is checked when built (E_USAGE at once),
 * the Windows settings are read once, each PAC file is loaded and compiled once (a failure to load
 * it is kept too: a broken PAC file is not downloaded again for every request), and PAC answers
 * are kept per scheme + host + port, which is all the script is shown. Call close() when done.
 */
export class ProxySelector {
  private readonly settings: ProxySettings;
  private readonly option: ProxyChoice | undefined;
  private windows: Promise<InternetSettings | undefined> | undefined;
  private readonly pacScripts = new Map<string, Promise<PacScript>>();
  private readonly pacAnswers = new Map<string, Promise<ProxyChoice[]>>();

  constructor(settings: ProxySettings = {}) {
    this.settings = settings;
    this.option = optionChoice(settings.proxy);
    if (settings.pac !== undefined && (typeof settings.pac !== 'string' || settings.pac.trim() === '')) {
      throw new SymsrvError('E_USAGE', 'the pac option must be the URL or path of a PAC file', { subject: 'pac option' });
    }
  }

  async choose(target: URL): Promise<ProxyChoice[]> {
    if (target.protocol !== 'http:' && target.protocol !== 'https:') {
      return [{ url: null, source: 'direct', detail: `${target.protocol} URLs do not go through a proxy` }];
    }
    if (this.option) return [this.option];
    if (this.settings.pac !== undefined) return this.fromPac(this.settings.pac, target, 'the pac option');

    const env = this.settings.env ?? process.env;
    const nt = ntSymbolProxy(env);
    if (nt) return [nt];

    const notes: string[] = [];
    const fromEnv = envChoice(target, env, notes);
    if (fromEnv) return [fromEnv];

    const platform = this.settings.platform ?? process.platform;
    if (platform === 'win32') {
      const fromWindows = await this.fromWindows(target, notes);
      if (fromWindows) return fromWindows.map((c) => withNotes(c, notes));
    }
    const checked = ['proxy option', 'pac option', '_NT_SYMBOL_PROXY', ...(target.protocol === 'https:' ? HTTPS_VARS : HTTP_VARS)];
    if (platform === 'win32') checked.push('Windows Internet Settings');
    return [withNotes({ url: null, source: 'direct', detail: `no proxy is configured (checked ${checked.join(', ')}): connecting directly` }, notes)];
  }

  /** Frees the PAC sandboxes. */
  close(): void {
    for (const script of this.pacScripts.values()) {
      script.then(
        (s) => s.dispose(),
        () => undefined,
      );
    }
    this.pacScripts.clear();
    this.pacAnswers.clear();
  }

  private fromPac(pac: string, target: URL, from: string): Promise<ProxyChoice[]> {
    const key = `${pac}\n${pacRequestUrl(target)}`;
    let answer = this.pacAnswers.get(key);
    if (!answer) {
      answer = this.runPac(pac, target, from);
      this.pacAnswers.set(key, answer);
      // A failed run (a timeout on a slow DNS lookup) is tried again next time.
      const mine = answer;
      mine.catch(() => {
        if (this.pacAnswers.get(key) === mine) this.pacAnswers.delete(key);
      });
    }
    return answer;
  }

  private async runPac(pac: string, target: URL, from: string): Promise<ProxyChoice[]> {
    let script = this.pacScripts.get(pac);
    if (!script) {
      script = loadPacScript(pac, {
        fetchText: this.settings.fetchText,
        ...(this.settings.onPacAlert ? { onAlert: this.settings.onPacAlert } : {}),
      });
      script.catch(() => undefined); // kept (see the class comment); reported by the await below
      this.pacScripts.set(pac, script);
    }
    const answer = await (await script).findProxy(target);
    return pacChoices(answer, target, `the PAC file ${maskUserinfo(pac)} (${from})`);
  }

  private async fromWindows(target: URL, notes: string[]): Promise<ProxyChoice[] | undefined> {
    const read = this.settings.readWindowsSettings ?? (() => readInternetSettings());
    // Unreadable settings are no settings: the next step decides.
    this.windows ??= Promise.resolve()
      .then(read)
      .catch(() => undefined);
    const settings = await this.windows;
    if (!settings) return undefined;
    if (settings.autoConfigURL) {
      try {
        return await this.fromPac(settings.autoConfigURL, target, 'Windows AutoConfigURL');
      } catch (err) {
        if (!isSymsrvError(err)) throw err;
        // WinINet also falls back to the manual settings when the script cannot be used.
        notes.push(`AutoConfigURL skipped: ${err.message}`);
      }
    }
    const decision = proxyFromInternetSettings(settings, target);
    if (!decision) {
      notes.push('Windows Internet Settings: no manual proxy enabled');
      return undefined;
    }
    if (decision.proxy === null) return [{ url: null, source: 'windows', detail: decision.detail }];
    const url = parseProxy(withHttpScheme(decision.proxy), 'Windows Internet Settings ProxyServer');
    return [{ url, source: 'windows', detail: `${decision.detail}: ${describeProxy(url)}` }];
  }
}

function optionChoice(proxy: string | null | undefined): ProxyChoice | undefined {
  if (proxy === null || proxy === undefined) return undefined;
  if (typeof proxy !== 'string') throw new SymsrvError('E_USAGE', `the proxy option must be a string, 'direct' or null, not ${typeof proxy}`);
  if (/^\s*direct\s*$/i.test(proxy)) {
    return { url: null, source: 'option', detail: `proxy option 'direct': connecting directly, whatever the environment says` };
  }
  const url = parseProxy(proxy, 'proxy option');
  return { url, source: 'option', detail: `proxy option: ${describeProxy(url)}` };
}

function ntSymbolProxy(env: NodeJS.ProcessEnv): ProxyChoice | undefined {
  const value = envValue(env, '_NT_SYMBOL_PROXY');
  if (value === undefined) return undefined;
  if (/^\s*direct\s*$/i.test(value)) {
    return { url: null, source: '_NT_SYMBOL_PROXY', detail: `_NT_SYMBOL_PROXY=direct: connecting directly` };
  }
  const url = parseProxy(value, '_NT_SYMBOL_PROXY');
  return { url, source: '_NT_SYMBOL_PROXY', detail: `_NT_SYMBOL_PROXY=${describeProxy(url)}` };
}

function envChoice(target: URL, env: NodeJS.ProcessEnv, notes: string[]): ProxyChoice | undefined {
  const https = target.protocol === 'https:';
  const names = https ? HTTPS_VARS : HTTP_VARS;
  let name: (typeof names)[number] | undefined;
  let value: string | undefined;
  for (const n of names) {
    value = envValue(env, n);
    if (value !== undefined) {
      name = n;
      break;
    }
  }
  if (!https && envValue(env, 'HTTP_PROXY') !== undefined && envValue(env, 'http_proxy') === undefined) {
    notes.push('HTTP_PROXY is ignored for http:// URLs: only lower-case http_proxy is read, as curl does (httpoxy)');
  }
  if (name === undefined || value === undefined) return undefined;
  const url = parseProxy(value, name);
  const host = target.hostname;
  const noProxyName = envValue(env, 'no_proxy') !== undefined ? 'no_proxy' : envValue(env, 'NO_PROXY') !== undefined ? 'NO_PROXY' : undefined;
  const source = `env:${name}` as ProxySource;
  if (noProxyName === undefined) {
    return withNotes({ url, source, detail: `${name}=${describeProxy(url)} (NO_PROXY is not set)` }, notes);
  }
  const entry = findNoProxyMatch(target, envValue(env, noProxyName) ?? '');
  if (entry === undefined) {
    return withNotes({ url, source, detail: `${name}=${describeProxy(url)} (${noProxyName} does not match ${host})` }, notes);
  }
  const what = entry === '*' ? `${noProxyName}=* matches every host` : `${noProxyName} entry '${entry}' matches ${host}`;
  return withNotes({ url: null, source: 'no_proxy', detail: `${what}: connecting directly instead of through ${name}=${describeProxy(url)}` }, notes);
}

/** curl: an empty variable is an unset one. */
function envValue(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const v = env[name];
  return v === undefined || v.trim() === '' ? undefined : v.trim();
}

function withNotes(choice: ProxyChoice, notes: string[]): ProxyChoice {
  return notes.length === 0 ? choice : { ...choice, detail: `${choice.detail}; ${notes.join('; ')}` };
}

/** System lists (PAC, ProxyServer) name HTTP proxies as `host[:port]`, port 80 by default. */
function withHttpScheme(server: string): string {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(server) ? server : `http://${server}`;
}

function parseProxy(text: string, where: string): URL {
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
  if (scheme !== undefined && scheme.startsWith('socks')) {
    throw usage("SOCKS proxies are not supported; give an HTTP proxy as http://host:port, or no proxy (proxy option 'direct')");
  }
  if (scheme !== undefined && scheme !== 'http') throw usage(`${scheme}:// proxies are not supported; give an HTTP proxy as http://host:port`);
  if (scheme === undefined && /^direct$/i.test(raw)) throw usage(`'direct' is not a proxy here; to connect directly pass proxy 'direct' (CLI --no-proxy)`);

  const withScheme = scheme === undefined ? `http://${raw}` : raw;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw usage('not a proxy: give host:port or http://host:port');
  }
  if (!url.hostname) throw usage('no host name: give host:port or http://host:port');
  if (!decodable(url.username) || !decodable(url.password)) {
    // Checked here, so a URIError never escapes later from the credentials (credentials.ts).
    throw usage('its user name or password has a bad %-escape (write % itself as %25)');
  }
  if (url.pathname !== '/' || url.search || url.hash) {
    throw usage('a proxy is host:port, without a path (a PAC file goes in the pac option)');
  }
  if (url.port === '0') throw usage('port 0 is not a port');
  if (scheme === undefined && !hasPort(withScheme)) {
    throw usage('no port: write host:port (there is no standard proxy port: curl assumes 1080, most tools 80)');
  }
  return url;
}

function decodable(text: string): boolean {
  try {
    decodeURIComponent(text);
    return true;
  } catch {
    return false;
  }
}

/** Whether the authority of `http://...` names a port (the URL parser drops `:80`). */
function hasPort(urlText: string): boolean {
  const authority = urlText.slice(urlText.indexOf('://') + 3).split(/[/?#]/, 1)[0] ?? '';
  const hostPort = authority.slice(authority.lastIndexOf('@') + 1);
  return hostPort.startsWith('[') ? /\]:\d+$/.test(hostPort) : /:\d+$/.test(hostPort);
}

function pacChoices(answer: string, target: URL, where: string): ProxyChoice[] {
  const shownAnswer = truncate(answer.trim().replace(/\S+@/g, '***@'), 200);
  const head = `${where} answered "${shownAnswer}" for ${pacRequestUrl(target)}`;
  const skipped: string[] = [];
  const candidates: { url: URL | null; label: string }[] = [];
  const seen = new Set<string>();
  for (const entry of parsePacResult(answer)) {
    let url: URL | null;
    if (entry.kind === 'skipped') {
      skipped.push(`skipped '${entry.text}': ${entry.reason}`);
      continue;
    } else if (entry.kind === 'direct') {
      url = null;
    } else {
      try {
        url = parseProxy(withHttpScheme(entry.server), 'PAC entry');
      } catch (err) {
        if (!isSymsrvError(err)) throw err;
        skipped.push(`skipped '${entry.text}': not a host:port`);
        continue;
      }
    }
    const label = url === null ? 'DIRECT' : `PROXY ${describeProxy(url)}`;
    if (seen.has(label)) continue;
    seen.add(label);
    candidates.push({ url, label });
  }
  const notes = skipped.length ? ` (${skipped.join('; ')})` : '';
  if (candidates.length === 0) {
    // Chromium: "If we failed to parse anything from the PAC results list, fallback to DIRECT".
    return [{ url: null, source: 'pac', detail: `${head}: nothing usable in it, so DIRECT${notes}` }];
  }
  return candidates.map((c, i) => ({
    url: c.url,
    source: 'pac' as const,
    detail: `${head}: candidate ${i + 1} of ${candidates.length}, ${c.label}${notes}`,
  }));
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
